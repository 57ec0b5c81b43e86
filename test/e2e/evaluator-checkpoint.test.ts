// The evaluator loading a checkpoint itself (target.model) measures what a live generator serving the
// same checkpoint measures: every process its own (evaluator, generator, reward-model), the same tasks
// (registered synthetic perplexity, chat multiple choice and greedy generate-and-match, plus inline
// greedy and seeded-sampling generation and a reward win-rate task scored by the reward-model), compared
// metric by metric and document by document. Bad model sources are refused
// with NOT_FOUND / INVALID_ARGUMENT / FAILED_PRECONDITION naming what is wrong, and the evaluator keeps
// serving (health and the next run) afterwards and while a checkpoint run computes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { CheckpointStore } from '@juice/checkpoint';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { EvaluatorService, RunState, TaskKind, type EvaluateRequestSchema, type GetReportResponse, type TaskResult } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { healthStatus } from '../support/grpc-tools.js';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-eval-ckpt-'));
const model = join(work, 'model');
let generator: RunningRole;
let evaluator: RunningRole;
let rewardModel: RunningRole;
let client: ReturnType<typeof createClient<typeof EvaluatorService>>;
let genPath = '';

type Target = MessageInitShape<typeof EvaluateRequestSchema>['target'];
const viaModel: Target = { kind: { case: 'model', value: { kind: { case: 'hfDir', value: model } } } };

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 50, evalSize: 10 });
  genPath = join(work, 'data', 'gen.jsonl');
  createDefaultModel(model, { corpus: data.tokenizerCorpus, seed: 1 });
  [generator, evaluator, rewardModel] = await Promise.all([
    startRole('generator', ['--model', model]),
    startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks'), '--store', join(work, 'store')]),
    // A causal LM given a fresh seeded score head: enough to compare answers deterministically.
    startRole('reward-model', ['--model', model]),
  ]);
  client = createClient(EvaluatorService, evaluator.address);
});
after(async () => {
  client.close();
  await Promise.all([evaluator.stop(), generator.stop(), rewardModel.stop()]);
});

/** Inline generation tasks on the held-out questions: `generation` decides how they decode. */
const genTask = (name: string, generation: Record<string, unknown>, until: string[]) => ({
  kind: {
    case: 'definition' as const,
    value: { name, kind: TaskKind.GENERATE_MATCH, dataset: { path: genPath, format: 1 }, docToText: 'question', docToTarget: 'answer', generation, until },
  },
});
// The untrained model (tied embeddings) repeats the prompt's last token: after the chat template's
// assistant marker that is a special token, skipped in the text, so the registered task's answers are
// empty. These decode 16 tokens of plain-text continuation with a frequency penalty, so there is text to
// compare, greedy and with seeded sampling (the two paths must then draw the same tokens).
const extraTasks = () => [
  genTask('greedy_long', { temperature: 0, maxNewTokens: 16, ignoreEos: true, frequencyPenalty: 2 }, ['@@']),
  genTask('sampled_gen', { temperature: 0.9, topP: 0.95, maxNewTokens: 16, seed: 77n, ignoreEos: true, frequencyPenalty: 2 }, ['@@']),
  {
    kind: {
      case: 'definition' as const,
      value: { name: 'win_rate', kind: TaskKind.REWARD_WIN_RATE, dataset: { path: genPath, format: 1 }, docToText: 'question', docToTarget: 'answer', generation: { temperature: 0, maxNewTokens: 12, ignoreEos: true, frequencyPenalty: 2 } },
    },
  },
];

async function evaluate(target: Target): Promise<GetReportResponse> {
  const { runId } = await client.evaluate({
    target: { ...target, rewardModelAddress: rewardModel.address },
    tasks: [...['synthetic_ppl', 'synthetic_mc', 'synthetic_gen'].map((n) => ({ kind: { case: 'name' as const, value: n } })), ...extraTasks()],
    limit: 10,
    batchSize: 4,
    logSamples: 10,
  });
  let last = RunState.UNSPECIFIED;
  const errors: string[] = [];
  for await (const e of client.watchRun({ runId, fromBeginning: true })) {
    if (e.event.case === 'state') last = e.event.value;
    if (e.event.case === 'error') errors.push(`${e.event.value.code}: ${e.event.value.message}`);
  }
  assert.equal(last, RunState.SUCCEEDED, errors.join('; '));
  return client.getReport({ runId, includeSamples: true });
}

const byTask = (r: GetReportResponse) => new Map<string, TaskResult>(r.results.map((t) => [t.task, t]));
const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-12), `${what}: ${a} vs ${b}`);

test('a checkpoint evaluated in the evaluator gives the metrics the generator serving it gives', async () => {
  const [live, loaded] = await Promise.all([evaluate({ kind: { case: 'generatorAddress', value: generator.address } }), evaluate(viaModel)]);
  const L = byTask(live);
  const M = byTask(loaded);
  assert.deepEqual([...M.keys()], ['synthetic_ppl', 'synthetic_mc', 'synthetic_gen', 'greedy_long', 'sampled_gen', 'win_rate']);
  assert.equal(loaded.run?.model?.modelSha256, live.run?.model?.modelSha256, 'both runs report the same weights');

  const ppl = [L.get('synthetic_ppl')!, M.get('synthetic_ppl')!];
  for (const m of ['nll', 'perplexity', 'bits_per_byte', 'word_perplexity']) close(ppl[0]!.metrics[m]!, ppl[1]!.metrics[m]!, 1e-4, `perplexity task ${m}`);
  assert.ok(ppl[1]!.metrics.perplexity! > 1, 'a real perplexity');

  const mc = [L.get('synthetic_mc')!, M.get('synthetic_mc')!];
  assert.equal(mc[1]!.metrics.acc, mc[0]!.metrics.acc);
  assert.equal(mc[1]!.metrics.acc_norm, mc[0]!.metrics.acc_norm);
  // Document by document: the same choice picked, each choice's log-prob equal to float precision.
  assert.equal(mc[1]!.samples.length, 10);
  mc[1]!.samples.forEach((s, i) => {
    const ref = mc[0]!.samples[i]!;
    assert.equal(s.output, ref.output, `mc doc ${i} choice`);
    s.choiceLogprobs.forEach((lp, j) => close(lp, ref.choiceLogprobs[j]!, 1e-4, `mc doc ${i} choice ${j}`));
    assert.ok(s.choiceLogprobs.every((lp) => lp < 0 && Number.isFinite(lp)));
  });

  for (const name of ['synthetic_gen', 'greedy_long', 'sampled_gen']) {
    const [a, b] = [L.get(name)!, M.get(name)!];
    assert.equal(b.metrics.exact_match, a.metrics.exact_match, `${name} exact_match`);
    // The generated texts themselves (greedy, and seeded sampling) are the same.
    assert.deepEqual(b.samples.map((s) => s.output), a.samples.map((s) => s.output), `${name} outputs`);
  }
  for (const name of ['greedy_long', 'sampled_gen']) assert.ok(M.get(name)!.samples.every((s) => s.output.length > 0), `${name} generated text`);
  assert.notDeepEqual(M.get('greedy_long')!.samples.map((s) => s.output), M.get('sampled_gen')!.samples.map((s) => s.output), 'sampling is not greedy');
  // Win-rate: the same answers, so the reward-model gives the same scores.
  const [wa, wb] = [L.get('win_rate')!, M.get('win_rate')!];
  assert.deepEqual(wb.samples.map((s) => s.output), wa.samples.map((s) => s.output), 'win_rate answers');
  for (const m of ['win_rate', 'mean_reward', 'mean_reference_reward', 'mean_prob_preferred']) close(wb.metrics[m]!, wa.metrics[m]!, 1e-6, `win_rate ${m}`);
  assert.ok(wb.metrics.mean_reward !== wb.metrics.mean_reference_reward, 'the answers were scored, not the references twice');
  assert.deepEqual(M.get('synthetic_gen')!.weightVersions, [0n]);
});

test('bad model sources are refused naming the problem; the evaluator keeps serving', async () => {
  const tasks = [{ kind: { case: 'name' as const, value: 'synthetic_ppl' } }];
  const expectStatus = async (target: Target, code: status, ...inMessage: string[]) => {
    await assert.rejects(client.evaluate({ target, tasks, limit: 2 }), (e: unknown) => {
      assert.ok(e instanceof ServiceError, String(e));
      assert.equal(e.code, code, `${status[e.code]}: ${e.message}`);
      for (const s of inMessage) assert.ok(e.message.includes(s), `message names ${s}: ${e.message}`);
      return true;
    });
  };
  const missing = join(work, 'no-such-model');
  await expectStatus({ kind: { case: 'model', value: { kind: { case: 'hfDir', value: missing } } } }, status.NOT_FOUND, missing, 'target.model.hf_dir');

  const broken = join(work, 'broken-model');
  cpSync(model, broken, { recursive: true });
  writeFileSync(join(broken, 'config.json'), JSON.stringify({ architectures: ['BertModel'], model_type: 'bert' }));
  await expectStatus({ kind: { case: 'model', value: { kind: { case: 'hfDir', value: broken } } } }, status.INVALID_ARGUMENT, 'not supported');

  await expectStatus({ kind: { case: 'model', value: { kind: { case: 'hfDir', value: model }, expectedSha256: '0'.repeat(64) } } }, status.FAILED_PRECONDITION, 'expected_sha256');
  await expectStatus({ kind: { case: 'model', value: { kind: { case: 'checkpoint', value: { jobId: 'job-that-never-ran' } } } } }, status.NOT_FOUND, 'checkpoint');
  await expectStatus({ kind: { case: 'model', value: {} } }, status.FAILED_PRECONDITION, 'embedded');
  await assert.rejects(
    client.evaluate({ target: viaModel, tasks: [{ kind: { case: 'definition', value: { name: 'wr', kind: TaskKind.REWARD_WIN_RATE, dataset: { path: genPath, format: 1 }, docToText: 'question', docToTarget: 'answer' } } }] }),
    (e: unknown) => e instanceof ServiceError && e.code === status.FAILED_PRECONDITION && e.message.includes('reward_model_address'),
  );

  // Cancelling a checkpoint run stops it mid-task; the loaded model goes on serving the next run.
  const long = await client.evaluate({ target: viaModel, tasks: [genTask('long_gen', { temperature: 0, maxNewTokens: 100, ignoreEos: true }, ['@@'])], batchSize: 1 });
  for await (const e of client.watchRun({ runId: long.runId, fromBeginning: true })) if (e.event.case === 'progress' && e.event.value.docsDone > 0n) break;
  await client.cancelRun({ runId: long.runId });
  const states: RunState[] = [];
  for await (const e of client.watchRun({ runId: long.runId, fromBeginning: true })) if (e.event.case === 'state') states.push(e.event.value);
  assert.equal(states.at(-1), RunState.CANCELLED);

  // Still serving: a run on a trainer checkpoint (by reference, resolved in the store the trainer writes)
  // succeeds, and health answers promptly while it computes.
  const store = CheckpointStore.open(join(work, 'store', 'checkpoints'));
  store.save('job-1', 3, { files: Object.fromEntries(readdirSync(model).map((f) => [f, readFileSync(join(model, f))])), metadata: { step: 1 } });
  await expectStatus({ kind: { case: 'model', value: { kind: { case: 'checkpoint', value: { jobId: 'job-1', version: 2n } } } } }, status.NOT_FOUND, 'v2');
  const byRef: Target = { kind: { case: 'model', value: { kind: { case: 'checkpoint', value: { jobId: 'job-1' } } } } };
  const { runId } = await client.evaluate({ target: byRef, tasks: [...tasks, { kind: { case: 'name', value: 'synthetic_gen' } }], limit: 6, batchSize: 2 });
  const slowest = { ms: 0 };
  let finished = false;
  const watching = (async () => {
    let last = RunState.UNSPECIFIED;
    for await (const e of client.watchRun({ runId, fromBeginning: true })) if (e.event.case === 'state') last = e.event.value;
    finished = true;
    return last;
  })();
  while (!finished) {
    const t0 = performance.now();
    assert.equal(await healthStatus(evaluator.address), 'SERVING');
    slowest.ms = Math.max(slowest.ms, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await watching, RunState.SUCCEEDED);
  assert.ok(slowest.ms < 1500, `health took ${slowest.ms.toFixed(0)} ms during a checkpoint run`);
});
