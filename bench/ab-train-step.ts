// Developer tool: A/B of train-step graphs in one process, on a shared machine. Each candidate (an ONNX
// file saved from an older tree with --save, or the current tree's graph) runs in turn, round after
// round, with a 2048³ MatMul in between; each figure is the best round, so a neighbour that was busy
// during one round cannot decide the comparison.
// Usage: node --import tsx bench/ab-train-step.ts [--save file.onnx] [candidate ...] [--rounds 12]
import * as ort from 'onnxruntime-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { toModelBytes } from '@juice/onnx';
import { grad } from '@juice/autograd';
import { matmulModel } from '@juice/runtime';
import { buildCausalLm, initParameters, parameterCount, type ModelConfig } from '@juice/models';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 512, hiddenSize: 512, intermediateSize: 1376, numLayers: 4, numHeads: 8, numKvHeads: 8,
  headDim: 64, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 256, tieWordEmbeddings: false, qkvBias: false,
};
const B = 8, T = 128;
const args = process.argv.slice(2);
const flag = (name: string) => { const i = args.indexOf(name); return i < 0 ? undefined : args.splice(i, 2)[1]; };
const save = flag('--save');
const rounds = Number(flag('--rounds') ?? 12);
const m = buildCausalLm(config);
const current = toModelBytes(grad(m.graph, { loss: 'loss', wrt: m.weights }));
if (save) {
  writeFileSync(save, current);
  process.exit(0);
}
const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'basic', enableMemPattern: false, intraOpNumThreads: 2, interOpNumThreads: 1 };
// A candidate `file.onnx` or `current`, optionally with session options: `current@extended`, `old.onnx@mempattern`.
const specs = args.length ? args : ['current'];
const candidates = specs.map((spec) => {
  const [file, ...mods] = spec.split('@');
  const o = { ...opts };
  for (const mod of mods) {
    if (mod === 'mempattern') o.enableMemPattern = true;
    else if (mod === 'noarena') o.enableCpuMemArena = false;
    else o.graphOptimizationLevel = mod as 'extended';
  }
  return { name: spec, bytes: file === 'current' ? current : new Uint8Array(readFileSync(file!)), o };
});
const p = initParameters(config, 1);
const feeds: Record<string, ort.Tensor> = {};
for (const e of p.entries) feeds[e.name] = new ort.Tensor('float32', p.view(e.name), e.shape as number[]);
feeds.input_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % 512)), [B, T]);
feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]);
feeds.labels = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 104729 + 1) % 512)), [B, T]);
const runs = [];
for (const c of candidates) {
  const s = await ort.InferenceSession.create(c.bytes, c.o);
  const f = Object.fromEntries(s.inputNames.map((n) => [n, feeds[n]!]));
  const first = await s.run(f);
  runs.push({ ...c, s, f, best: Infinity, loss: (first.loss!.data as Float32Array)[0] });
}
const N = 2048;
const mm = await ort.InferenceSession.create(matmulModel(N), opts);
const mmFeeds = { A: new ort.Tensor('float32', new Float32Array(N * N).fill(0.5), [N, N]), B: new ort.Tensor('float32', new Float32Array(N * N).fill(0.25), [N, N]) };
let mmBest = Infinity;
for (let r = 0; r < rounds; r++) {
  for (const x of runs) {
    const t = performance.now();
    await x.s.run(x.f);
    x.best = Math.min(x.best, performance.now() - t);
  }
  const t = performance.now();
  await mm.run(mmFeeds);
  mmBest = Math.min(mmBest, performance.now() - t);
}
const peak = (2 * N ** 3) / (mmBest * 1e6);
const flops = 6 * parameterCount(config, { embeddings: false }) * B * T;
console.log(`matmul peak ${peak.toFixed(0)} GFLOP/s (best of ${rounds})`);
for (const x of runs) console.log(`${x.name.padEnd(40)} ${x.best.toFixed(1).padStart(7)} ms  ${((100 * flops) / (x.best * 1e6) / peak).toFixed(1).padStart(5)} % of peak  loss ${x.loss}`);
