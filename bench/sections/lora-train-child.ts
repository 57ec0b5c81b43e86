// One train-step measurement in its own process, so its peak RSS (process.resourceUsage().maxRSS)
// belongs to that configuration alone: `full` trains every weight with AdamW, `lora` trains PEFT
// adapters (the graph buildCausalLm builds with { lora, loraGraph: { train: true } }) on frozen base
// weights fed as inputs, with AdamW over the adapters only. Prints one JSON line:
// { stepMs (median of fwd+bwd+optimizer), createMs, optimizerStateBytes, trainedParams, maxRssBytes }.
import { TrainStep } from '@juice/algorithms';
import { buildCausalLm, initLora, initParameters, type LoraSpec, type ModelConfig } from '@juice/models';
import { AdamW, serializeOptimizerState, type ParamSet } from '@juice/optim';
import type { Feeds } from '@juice/runtime';

export interface ChildRequest {
  mode: 'full' | 'lora';
  config: ModelConfig;
  lora: LoraSpec;
  batch: number;
  seqLen: number;
  steps: number;
}

export interface ChildResult {
  stepMs: number;
  createMs: number;
  optimizerStateBytes: number;
  trainedParams: number;
  maxRssBytes: number;
}

const req = JSON.parse(process.argv[2]!) as ChildRequest;
const { config: c, batch: B, seqLen: T } = req;
const base = initParameters(c, 1);
let trained: ParamSet = base;
let graph = buildCausalLm(c).graph;
const frozen: Feeds = {};
if (req.mode === 'lora') {
  trained = initLora(c, req.lora, 2);
  graph = buildCausalLm(c, { lora: req.lora, loraGraph: { train: true } }).graph;
  for (const e of base.entries) frozen[e.name] = { data: base.view(e.name), dims: e.shape as number[], type: 'float32' };
}
const t0 = performance.now();
const step = await TrainStep.create(graph, trained);
const createMs = performance.now() - t0;
const opt = new AdamW(trained, { lr: 1e-4 });
const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % c.vocabSize));
const labels = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 104729 + 1) % c.vocabSize));
const feeds: Feeds = { ...frozen, input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] }, labels: { data: labels, dims: [B, T] } };
const times: number[] = [];
for (let i = 0; i <= req.steps; i++) {
  const a = performance.now();
  const r = await step.run(feeds);
  opt.step(r.grads);
  if (i > 0) times.push(performance.now() - a); // the first step pays ORT's first-run allocations
}
await step.release();
const sorted = [...times].sort((x, y) => x - y);
const out: ChildResult = {
  stepMs: sorted[Math.floor(sorted.length / 2)]!,
  createMs,
  optimizerStateBytes: serializeOptimizerState(opt.state()).byteLength,
  trainedParams: trained.numParams,
  // maxRSS is in kilobytes.
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
};
console.log(JSON.stringify(out));
