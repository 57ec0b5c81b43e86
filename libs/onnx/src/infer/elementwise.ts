// Elementwise ops: unary (same type), binary/variadic with numpy broadcasting, comparisons -> bool.
import { attrInt } from '../attributes.js';
import { dtypeFromOnnx } from '../dtype.js';
import { broadcastShapes } from '../shape.js';
import { need, registerInference, type InferContext } from './registry.js';

const UNARY = [
  'Identity', 'Neg', 'Abs', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Sigmoid', 'Tanh', 'Erf', 'Relu', 'Gelu',
  'Floor', 'Ceil', 'Round', 'Sign', 'Sin', 'Cos', 'Softplus', 'Softsign', 'LeakyRelu', 'Elu', 'Selu',
  'HardSigmoid', 'HardSwish', 'Mish', 'Clip', 'Trilu', 'CumSum', 'Softmax', 'LogSoftmax',
];
registerInference(UNARY, (ctx) => [need(ctx, 0)]);

function broadcastAll(ctx: InferContext) {
  const present = ctx.inputs.filter((t) => t !== undefined);
  return broadcastShapes(present.map((t) => t.shape), ctx.fresh, ctx.opType);
}

function checkSameDType(ctx: InferContext, from: number) {
  const ts = ctx.inputs.slice(from).filter((t) => t !== undefined);
  for (const t of ts) {
    if (t.dtype !== ts[0]!.dtype) {
      throw new Error(`${ctx.opType}: inputs must share a dtype, got ${ts.map((x) => x.dtype).join(' and ')}`);
    }
  }
}

registerInference(['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'PRelu'], (ctx) => {
  checkSameDType(ctx, 0);
  return [{ dtype: need(ctx, 0).dtype, shape: broadcastAll(ctx) }];
});

// Pow's exponent may have another numeric type.
registerInference('Pow', (ctx) => [{ dtype: need(ctx, 0).dtype, shape: broadcastAll(ctx) }]);

registerInference(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'], (ctx) => {
  checkSameDType(ctx, 0);
  return [{ dtype: 'bool', shape: broadcastAll(ctx) }];
});

registerInference(['Not', 'IsNaN', 'IsInf'], (ctx) => [{ dtype: 'bool', shape: need(ctx, 0).shape }]);

registerInference('Where', (ctx) => {
  if (need(ctx, 0).dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${need(ctx, 0).dtype}`);
  checkSameDType(ctx, 1);
  return [{ dtype: need(ctx, 1).dtype, shape: broadcastAll(ctx) }];
});

registerInference('Cast', (ctx) => {
  const to = attrInt(ctx.attrs, 'to');
  if (to === undefined) throw new Error('Cast: attribute `to` is required');
  return [{ dtype: dtypeFromOnnx(to), shape: need(ctx, 0).shape }];
});

registerInference('CastLike', (ctx) => [{ dtype: need(ctx, 1).dtype, shape: need(ctx, 0).shape }]);

registerInference('Dropout', (ctx) => {
  const x = need(ctx, 0);
  return ctx.numOutputs > 1 ? [x, { dtype: 'bool', shape: x.shape }] : [x];
});
