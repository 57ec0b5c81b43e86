// One IRFT round (stage) across services, split into its three parts: the trainer pushes the policy to
// the generator, the generator regenerates one greedy negative per prompt of the stage's part, the
// trainer trains on (demonstration ≻ own sample). Trainer and generator are their own processes on
// loopback, as in `juice run`. Times come from the job's own event stream (server timestamps), so the
// parts add up to the round: push = the WeightsPushed event's seconds; generate = from the push's end
// to the generation metrics event; train = from there to the stage's last step (it includes the
// reference copy and the step sessions' creation, which every stage pays).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { startRoleProcess } from '@juice/cli';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, DEFAULT_MODEL_CONFIG, parameterCount, type ModelConfig } from '@juice/models';
import { Algorithm, DataSchema, JobState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { table, type Section } from './types.js';

const STAGES = 3;
const PROMPTS_PER_STAGE = 64;
const STEPS_PER_STAGE = 8;
const BATCH = 16;
const MAX_NEW_TOKENS = 32;

/** ~10 M parameters: wide and deep enough that training, not per-call overhead, dominates a step. */
const BIGGER: ModelConfig = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 384, intermediateSize: 1024, numLayers: 6, numHeads: 6, numKvHeads: 6, headDim: 64 };

interface Round {
  push: number;
  generate: number;
  train: number;
}

async function measure(name: string, slug: string, config: ModelConfig, base: string, ctx: Parameters<Section>[0]): Promise<[string, string | number, string?][]> {
  const dir = join(base, slug);
  const data = await writeSyntheticDatasets(join(dir, 'data'), { seed: 7, trainSize: STAGES * PROMPTS_PER_STAGE, evalSize: 0 });
  const model = join(dir, 'model');
  createDefaultModel(model, { corpus: data.tokenizerCorpus, seed: 1, config });
  const generator = await startRoleProcess('generator', ['--model', model, '--max-batch', '64']);
  const trainer = await startRoleProcess('trainer', ['--store', join(dir, 'store'), '--generator', generator.address]);
  const client = createClient(TrainerService, trainer.address);
  const events: WatchJobResponse[] = [];
  try {
    const { job } = await client.startJob({
      spec: {
        algorithm: Algorithm.IRFT,
        model: { kind: { case: 'hfDir', value: model } },
        datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
        hyperparameters: { batchSize: BATCH, learningRate: 1e-4 },
        algorithmConfig: { case: 'irft', value: { stages: STAGES, stepsPerStage: BigInt(STEPS_PER_STAGE), beta: 0.5, generation: { temperature: 0, maxNewTokens: MAX_NEW_TOKENS } } },
      },
    });
    for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true, omitLogs: true })) events.push(e);
    const last = events.filter((e) => e.event.case === 'stateChange').at(-1);
    if (last?.event.case !== 'stateChange' || last.event.value.to !== JobState.SUCCEEDED) throw new Error(`IRFT bench job did not succeed: ${JSON.stringify(events.filter((e) => e.event.case === 'error').map((e) => e.event.value))}`);
  } finally {
    client.close();
    await Promise.all([trainer.stop(), generator.stop()]);
  }
  const at = (e: WatchJobResponse) => timestampMs(e.time!) / 1000;
  const rounds: Round[] = [];
  for (let stage = 0; stage < STAGES; stage++) {
    const push = events.filter((e) => e.event.case === 'weightsPushed')[stage]!;
    const gen = events.find((e) => e.event.case === 'stepMetrics' && e.event.value.stage === stage && e.event.value.metrics['gen/seconds'] !== undefined)!;
    const steps = events.filter((e) => e.event.case === 'stepMetrics' && e.event.value.stage === stage && e.event.value.metrics.loss !== undefined);
    rounds.push({ push: push.event.case === 'weightsPushed' ? push.event.value.seconds : NaN, generate: at(gen) - at(push), train: at(steps.at(-1)!) - at(gen) });
  }
  // The first round also pays the generator's and the trainer's first-call warm-up; report the steady ones.
  const steady = rounds.slice(1);
  const mean = (f: (r: Round) => number) => steady.reduce((a, r) => a + f(r), 0) / steady.length;
  const push = mean((r) => r.push);
  const generate = mean((r) => r.generate);
  const train = mean((r) => r.train);
  const round = push + generate + train;
  const first = rounds[0]!;
  ctx.results[`irft-round.${slug}.seconds`] = round;
  ctx.results[`irft-round.${slug}.generate_share`] = generate / round;
  const pct = (x: number) => `s  (${((100 * x) / round).toFixed(1)}% of the round)`;
  return [
    [`${name}: ${(parameterCount(config) / 1e6).toFixed(1)} M params; a round = ${PROMPTS_PER_STAGE} prompts, ≤ ${MAX_NEW_TOKENS} new tokens, ${STEPS_PER_STAGE} steps × ${BATCH} pairs`, '', ''],
    ['  generate (greedy negatives)', generate, pct(generate)],
    ['  train (pairwise steps)', train, pct(train)],
    ['  weight push (trainer → generator)', push, pct(push)],
    [`  round (mean of stages 2..${STAGES})`, round, 's'],
    ['  first round (with warm-up)', first.push + first.generate + first.train, 's'],
  ];
}

export const irftRoundSection: Section = async (ctx) => {
  const base = mkdtempSync(join(tmpdir(), 'juice-bench-irft-'));
  table([...(await measure('default (juice-tiny)', 'default', DEFAULT_MODEL_CONFIG, base, ctx)), ...(await measure('llama-10M', 'llama-10m', BIGGER, base, ctx))]);
};
