// Train-step measurements in their own process, so a peak RSS (process.resourceUsage().maxRSS) belongs
// to one configuration alone. `full` trains every weight with AdamW; `lora` trains PEFT adapters (the
// graph buildCausalLm builds with { lora, loraGraph: { train: true } }) on frozen base weights fed as
// inputs, with AdamW over the adapters only; `both` builds the two and alternates their steps, so the
// time ratio is measured under the same load (a neighbour process on the cores hits both alike).
// Prints one JSON line (ChildResult).
import { TrainStep } from '@juice/algorithms';
import { buildCausalLm, initLora, initParameters, type LoraSpec, type ModelConfig } from '@juice/models';
import { AdamW, serializeOptimizerState, type ParamSet } from '@juice/optim';
import type { Feeds } from '@juice/runtime';

export interface ChildRequest {
  mode: 'full' | 'lora' | 'both';
  config: ModelConfig;
  lora: LoraSpec;
  batch: number;
  seqLen: number;
  steps: number;
}

interface Timed {
  /** Best step (fwd + bwd + AdamW) after the first, ms: the figure least disturbed by other processes. */
  bestMs: number;
  medianMs: number;
  optimizerStateBytes: number;
  trainedParams: number;
}

export interface ChildResult {
  full?: Timed;
  lora?: Timed;
  maxRssBytes: number;
}

const req = JSON.parse(process.argv[2]!) as ChildRequest;
const { config: c, batch: B, seqLen: T } = req;
const base = initParameters(c, 1);
const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % c.vocabSize));
const labels = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 104729 + 1) % c.vocabSize));
const batch: Feeds = { input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] }, labels: { data: labels, dims: [B, T] } };

interface Runner {
  name: 'full' | 'lora';
  trained: ParamSet;
  step: TrainStep;
  opt: AdamW;
  feeds: Feeds;
  times: number[];
}

async function runner(name: 'full' | 'lora'): Promise<Runner> {
  if (name === 'full') {
    const step = await TrainStep.create(buildCausalLm(c).graph, base);
    return { name, trained: base, step, opt: new AdamW(base, { lr: 1e-4 }), feeds: batch, times: [] };
  }
  const adapters = initLora(c, req.lora, 2);
  const frozen: Feeds = {};
  for (const e of base.entries) frozen[e.name] = { data: base.view(e.name), dims: e.shape as number[], type: 'float32' };
  const step = await TrainStep.create(buildCausalLm(c, { lora: req.lora, loraGraph: { train: true } }).graph, adapters);
  return { name, trained: adapters, step, opt: new AdamW(adapters, { lr: 1e-4 }), feeds: { ...frozen, ...batch }, times: [] };
}

const runners = await Promise.all((req.mode === 'both' ? (['full', 'lora'] as const) : [req.mode]).map(runner));
for (let i = 0; i <= req.steps; i++) {
  for (const r of runners) {
    const a = performance.now();
    const out = await r.step.run(r.feeds);
    r.opt.step(out.grads);
    if (i > 0) r.times.push(performance.now() - a); // the first step pays ORT's first-run allocations
  }
}
const result: ChildResult = { maxRssBytes: process.resourceUsage().maxRSS * 1024 }; // maxRSS is in KiB
for (const r of runners) {
  await r.step.release();
  const sorted = [...r.times].sort((x, y) => x - y);
  result[r.name] = { bestMs: sorted[0]!, medianMs: sorted[Math.floor(sorted.length / 2)]!, optimizerStateBytes: serializeOptimizerState(r.opt.state()).byteLength, trainedParams: r.trained.numParams };
}
console.log(JSON.stringify(result));
