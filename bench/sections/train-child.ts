// One training process for the train-memory section: fwd + CE + bwd (TrainStep) then AdamW over every
// weight, for `steps` steps after a warm-up step, in a process of its own so process.resourceUsage().maxRSS
// is this model's training footprint alone (bench/torch/compare.py --train measures PyTorch the same way).
// Prints one JSON line (TrainChildResult).
import { TrainStep } from '@juice/algorithms';
import { buildCausalLm, initParameters, type ModelConfig } from '@juice/models';
import { AdamW } from '@juice/optim';
import type { Feeds } from '@juice/runtime';

export interface TrainChildRequest {
  config: ModelConfig;
  batch: number;
  seqLen: number;
  steps: number;
}

export interface TrainChildResult {
  /** fwd + CE + bwd, ms: best and median of the timed steps. */
  stepBestMs: number;
  stepMedianMs: number;
  /** AdamW over every parameter, ms (median). */
  adamwMs: number;
  maxRssBytes: number;
  /** RSS (MiB) after each phase: where the footprint comes from. */
  rssMb: { start: number; params: number; session: number; optimizer: number; firstStep: number; end: number };
}

const rss = () => process.memoryUsage().rss / 2 ** 20;
const rssMb: Partial<TrainChildResult['rssMb']> = { start: rss() };

const req = JSON.parse(process.argv[2]!) as TrainChildRequest;
const { config: c, batch: B, seqLen: T } = req;
const params = initParameters(c, 1);
rssMb.params = rss();
const ids = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 7919) % c.vocabSize));
const labels = BigInt64Array.from({ length: B * T }, (_, i) => BigInt((i * 104729 + 1) % c.vocabSize));
const batch: Feeds = { input_ids: { data: ids, dims: [B, T] }, attention_mask: { data: new BigInt64Array(B * T).fill(1n), dims: [B, T] }, labels: { data: labels, dims: [B, T] } };
const step = await TrainStep.create(buildCausalLm(c).graph, params);
rssMb.session = rss();
const opt = new AdamW(params, { lr: 1e-4 });
rssMb.optimizer = rss();
const stepMs: number[] = [];
const optMs: number[] = [];
for (let i = 0; i <= req.steps; i++) {
  const a = performance.now();
  const out = await step.run(batch);
  const b = performance.now();
  opt.step(out.grads);
  if (i === 0) rssMb.firstStep = rss();
  // The first step pays ORT's first-run allocations and is not timed (its memory is in maxRSS).
  if (i > 0) {
    stepMs.push(b - a);
    optMs.push(performance.now() - b);
  }
}
const maxRssBytes = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
rssMb.end = rss();
await step.release();
const sorted = [...stepMs].sort((x, y) => x - y);
const result: TrainChildResult = { stepBestMs: sorted[0]!, stepMedianMs: sorted[Math.floor(sorted.length / 2)]!, adamwMs: [...optMs].sort((x, y) => x - y)[Math.floor(optMs.length / 2)]!, maxRssBytes, rssMb: rssMb as TrainChildResult['rssMb'] };
console.log(JSON.stringify(result));
