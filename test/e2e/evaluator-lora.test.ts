// The evaluator takes base + adapter wherever it takes a model: a loaded model with a PEFT adapter
// directory (target.adapter, merged in the evaluator) measures what the merged checkpoint measures, and
// a live generator's adapter (target.adapter_name, sent on ScoreCompletions and Generate) measures the
// same to float precision. Misplaced adapter fields are INVALID_ARGUMENT naming them; an adapter the
// generator does not hold fails the run with NOT_FOUND.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { create } from '@bufbuild/protobuf';
import { writeSafetensors } from '@juice/checkpoint';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel, initLora, loadModel, mergeLora, savePeftAdapter, type LoraSpec } from '@juice/models';
import { EvaluatorService, GeneratorService, LoraConfigSchema, RunState, type EvaluateRequestSchema, type GetReportResponse, type TaskResult } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-eval-lora-'));
const baseDir = join(work, 'base');
const adapterDir = join(work, 'adapter');
const mergedDir = join(work, 'merged');
const spec: LoraSpec = { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'up_proj'] };
let roles: RunningRole[] = [];
let evaluator: ReturnType<typeof createClient<typeof EvaluatorService>>;
let generator: ReturnType<typeof createClient<typeof GeneratorService>>;

type Target = MessageInitShape<typeof EvaluateRequestSchema>['target'];
const hf = (dir: string) => ({ kind: { case: 'hfDir' as const, value: dir } });

before(async () => {
  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 5, trainSize: 50, evalSize: 10 });
  createDefaultModel(baseDir, { corpus: data.tokenizerCorpus, seed: 1 });
  createDefaultModel(mergedDir, { corpus: data.tokenizerCorpus, seed: 1 });
  const base = loadModel(baseDir);
  const adapters = initLora(base.config, spec, 3);
  for (const e of adapters.entries) if (e.name.includes('lora_B')) adapters.view(e.name).forEach((_, k, v) => (v[k] = 0.3 * Math.sin(3 * k)));
  savePeftAdapter(adapterDir, base.config, { spec, adapters, taskType: 'CAUSAL_LM', baseModelNameOrPath: 'base' });
  const merged = mergeLora(base.config, base.params, adapters, spec);
  writeSafetensors(join(mergedDir, 'model.safetensors'), merged.entries.map((e) => [e.name, { dtype: 'F32', shape: e.shape, data: merged.view(e.name) }]));
  roles = await Promise.all([
    startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks'), '--store', join(work, 'store')]),
    startRole('generator', ['--model', baseDir, '--max-adapters', '1']),
  ]);
  evaluator = createClient(EvaluatorService, roles[0]!.address);
  generator = createClient(GeneratorService, roles[1]!.address);
  const chunks = [...weightChunks(new Map(adapters.entries.map((e) => [e.name, { shape: e.shape, data: adapters.view(e.name) }])), { version: 1n })];
  Object.assign(chunks[0]!.header!, { loraAdapterOnly: true, adapterName: 'tuned', lora: create(LoraConfigSchema, { rank: spec.rank, alpha: spec.alpha, targetModules: [...spec.targetModules!] }) });
  await generator.pushWeights(chunks);
});
after(async () => {
  evaluator?.close();
  generator?.close();
  await Promise.all(roles.map((r) => r.stop()));
});

async function run(target: Target): Promise<{ state: RunState; errors: string[]; report?: GetReportResponse }> {
  const { runId } = await evaluator.evaluate({ target, tasks: ['synthetic_ppl', 'synthetic_mc', 'synthetic_gen'].map((n) => ({ kind: { case: 'name' as const, value: n } })), limit: 10, batchSize: 4, logSamples: 10 });
  let state = RunState.UNSPECIFIED;
  const errors: string[] = [];
  for await (const e of evaluator.watchRun({ runId, fromBeginning: true })) {
    if (e.event.case === 'state') state = e.event.value;
    if (e.event.case === 'error') errors.push(`${e.event.value.code}: ${e.event.value.message}`);
  }
  return { state, errors, report: state === RunState.SUCCEEDED ? await evaluator.getReport({ runId, includeSamples: true }) : undefined };
}
async function evaluate(target: Target): Promise<Map<string, TaskResult>> {
  const r = await run(target);
  assert.equal(r.state, RunState.SUCCEEDED, r.errors.join('; '));
  return new Map(r.report!.results.map((t) => [t.task, t]));
}
const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-12), `${what}: ${a} vs ${b}`);

test('base + adapter (loaded, or a live generator\'s adapter) measures what the merged model measures', async () => {
  const merged = await evaluate({ kind: { case: 'model', value: hf(mergedDir) } });
  const withAdapter = await evaluate({ kind: { case: 'model', value: hf(baseDir) }, adapter: hf(adapterDir) });
  const live = await evaluate({ kind: { case: 'generatorAddress', value: roles[1]!.address }, adapterName: 'tuned' });
  const base = await evaluate({ kind: { case: 'model', value: hf(baseDir) } });
  for (const [what, got, tol] of [['loaded base + adapter', withAdapter, 1e-6], ['live generator adapter', live, 1e-4]] as const) {
    for (const m of ['nll', 'perplexity', 'bits_per_byte']) close(got.get('synthetic_ppl')!.metrics[m]!, merged.get('synthetic_ppl')!.metrics[m]!, tol, `${what}: perplexity task ${m}`);
    got.get('synthetic_mc')!.samples.forEach((s, i) => s.choiceLogprobs.forEach((lp, j) => close(lp, merged.get('synthetic_mc')!.samples[i]!.choiceLogprobs[j]!, tol, `${what}: mc doc ${i} choice ${j}`)));
    assert.deepEqual(got.get('synthetic_gen')!.samples.map((s) => s.output), merged.get('synthetic_gen')!.samples.map((s) => s.output), `${what}: greedy outputs`);
  }
  assert.ok(Math.abs(base.get('synthetic_ppl')!.metrics.nll! - merged.get('synthetic_ppl')!.metrics.nll!) > 1e-3, 'the adapter changes what is measured');
});

test('adapter fields in the wrong place are INVALID_ARGUMENT; an adapter the generator lacks fails the run NOT_FOUND', async () => {
  const refused = async (target: Target, field: RegExp) =>
    assert.rejects(evaluator.evaluate({ target, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }], limit: 2 }), (e: unknown) => e instanceof ServiceError && e.code === status.INVALID_ARGUMENT && field.test(e.message));
  await refused({ kind: { case: 'generatorAddress', value: roles[1]!.address }, adapter: hf(adapterDir) }, /target\.adapter/);
  await refused({ kind: { case: 'model', value: hf(baseDir) }, adapterName: 'tuned' }, /target\.adapter_name/);
  await assert.rejects(evaluator.evaluate({ target: { kind: { case: 'model', value: hf(baseDir) }, adapter: hf(join(work, 'nope')) }, tasks: [{ kind: { case: 'name', value: 'synthetic_ppl' } }] }), (e: unknown) => e instanceof ServiceError && e.code === status.NOT_FOUND);
  const r = await run({ kind: { case: 'generatorAddress', value: roles[1]!.address }, adapterName: 'other' });
  assert.equal(r.state, RunState.FAILED);
  assert.match(r.errors.join('; '), /^NOT_FOUND: .*other/);
});
