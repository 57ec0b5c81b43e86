// Developer tool: ORT's per-node profile of the bench's train step, summed by op type (where time goes).
// Usage: node --import tsx bench/profile-train-step.ts
import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { buildCausalLm, initParameters, type ModelConfig } from '@juice/models';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 512, hiddenSize: 512, intermediateSize: 1376, numLayers: 4, numHeads: 8, numKvHeads: 8,
  headDim: 64, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 256, tieWordEmbeddings: false, qkvBias: false,
};
const B = 8, T = 128;
const m = buildCausalLm(config);
const g = grad(m.graph, { loss: 'loss', wrt: m.weights });
const prefix = join(tmpdir(), `juice-prof-${process.pid}`);
const s = await ort.InferenceSession.create(toModelBytes(g), { graphOptimizationLevel: 'basic', enableMemPattern: false, enableProfiling: true, profileFilePrefix: prefix });
const p = initParameters(config, 1);
const feeds: Record<string, ort.Tensor> = {};
for (const e of p.entries) feeds[e.name] = new ort.Tensor('float32', p.view(e.name), e.shape as number[]);
feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % 512)), [B, T]);
feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
feeds.labels = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7) % 512)), [B, T]);
for (let i = 0; i < 4; i++) await s.run(feeds);
s.endProfiling();
await s.release();
const file = join(tmpdir(), readdirSync(tmpdir()).filter((f) => f.startsWith(`juice-prof-${process.pid}`)).sort().at(-1)!);
const events = JSON.parse(readFileSync(file, 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: unknown } }[];
const byOp = new Map<string, { us: number; n: number }>();
let total = 0;
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const op = e.args?.op_name ?? '?';
  const r = byOp.get(op) ?? { us: 0, n: 0 };
  r.us += e.dur;
  r.n++;
  byOp.set(op, r);
  total += e.dur;
}
console.log(`nodes: ${g.nodes.length}, kernel time per run: ${(total / 4 / 1000).toFixed(1)} ms`);
for (const [op, r] of [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, 20)) console.log(`${op.padEnd(28)} ${(r.us / 4 / 1000).toFixed(1).padStart(7)} ms  ${(r.n / 4).toFixed(0)} nodes`);
// With JUICE_PROFILE_SHAPES=1: the same time by op and input shapes (which Gemm/Mul shapes are slow).
if (process.env.JUICE_PROFILE_SHAPES) {
  const byShape = new Map<string, { us: number; n: number }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const key = `${e.args?.op_name} ${JSON.stringify(e.args?.input_type_shape ?? '').replace(/"|float|int64/g, '')}`;
    const r = byShape.get(key) ?? { us: 0, n: 0 };
    r.us += e.dur;
    r.n++;
    byShape.set(key, r);
  }
  for (const [k, r] of [...byShape].sort((a, b) => b[1].us - a[1].us).slice(0, 40)) console.log(`${(r.us / 4 / 1000).toFixed(1).padStart(7)} ms ${(r.n / 4).toFixed(0).padStart(3)}x  ${k}`);
}
