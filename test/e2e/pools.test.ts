// Roles as pools (issue #13), each replica its own process on loopback: 3 generators and 2 reward models
// behind one trainer (--generator and --reward-model repeated). IRFT and RFT jobs succeed with every push
// reaching every replica (two-phase), every stage sampling from the version it pushed, and work reaching
// every replica; a generator SIGKILLed mid-stage and restarted on its port is brought to the pool's
// version before it serves again; an evaluation against the pool equals one against a single generator.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, EvaluatorService, GeneratorService, JobState, RewardModelService, RunState, TrainerService, type WatchJobResponse } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { freePort } from '../support/training-roles.js';

const work = mkdtempSync(join(tmpdir(), 'juice-pools-'));
const model = join(work, 'serve-model');
let gens: RunningRole[] = [];
let rms: RunningRole[] = [];
let trainer: RunningRole;
let ports: number[] = [];
let data: Awaited<ReturnType<typeof writeSyntheticDatasets>>;
const genArgs = (port: number) => ['--model', model, '--port', String(port)];

before(async () => {
  createDefaultModel(model, { corpus: ['What is 1+1? 2'], seed: 9 });
  data = await writeSyntheticDatasets(join(work, 'data'), { seed: 4, trainSize: 48, evalSize: 16 });
  ports = [await freePort(), await freePort(), await freePort()];
  gens = await Promise.all(ports.map((p) => startRole('generator', genArgs(p))));
  rms = await Promise.all([0, 1].map(() => startRole('reward-model', ['--model', model])));
  trainer = await startRole('trainer', ['--store', join(work, 'store'), ...gens.flatMap((g) => ['--generator', g.address]), '--reward-model', rms.map((r) => r.address).join(',')]);
});
after(async () => {
  await Promise.all([trainer, ...gens, ...rms].map((r) => r?.stop()));
});

async function runJob(spec: Parameters<ReturnType<typeof createClient<typeof TrainerService>>['startJob']>[0]['spec'], onEvent?: (e: WatchJobResponse) => void): Promise<WatchJobResponse[]> {
  const client = createClient(TrainerService, trainer.address);
  try {
    const { job } = await client.startJob({ spec });
    const evs: WatchJobResponse[] = [];
    for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true })) {
      evs.push(e);
      onEvent?.(e);
    }
    const errors = evs.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
    const final = evs.filter((e) => e.event.case === 'stateChange').at(-1)!;
    assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));
    return evs;
  } finally {
    client.close();
  }
}

const pushesOf = (evs: WatchJobResponse[], target: string) => evs.flatMap((e) => (e.event.case === 'weightsPushed' && e.event.value.target === target ? [e.event.value] : []));
/** Items each replica did, from the trainer's end-of-job pool summary (role "generator" / "reward model"). */
function itemsOf(evs: WatchJobResponse[], role: string): Record<string, number> {
  const line = evs.flatMap((e) => (e.event.case === 'log' && e.event.value.attributes['role'] === role && e.event.value.attributes['replicas'] !== undefined ? [e.event.value.attributes] : [])).at(-1);
  assert.ok(line, `no ${role} pool summary in the job log`);
  return Object.fromEntries(Object.entries(line).filter(([k]) => k.startsWith('items ')).map(([k, v]) => [k.slice(6), Number(v)]));
}
async function versionsOf(roles: RunningRole[], desc: typeof GeneratorService | typeof RewardModelService): Promise<bigint[]> {
  return Promise.all(
    roles.map(async (r) => {
      const c = createClient(desc, r.address);
      try {
        return (await c.getWeightVersion({})).active?.number ?? 0n;
      } finally {
        c.close();
      }
    }),
  );
}

describe('roles as pools', () => {
  it('IRFT over 3 generators: every push reaches all (two-phase), each stage samples from its version, work reaches every replica', async () => {
    const evs = await runJob({
      algorithm: Algorithm.IRFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT, maxRows: 32n }],
      hyperparameters: { batchSize: 8, learningRate: 3e-3 },
      algorithmConfig: { case: 'irft', value: { stages: 2, stepsPerStage: 2n, beta: 0.5, generationBatchSize: 6, generation: { temperature: 0, maxNewTokens: 8 } } },
    });
    const pushes = pushesOf(evs, 'generator');
    assert.equal(pushes.length, 2);
    for (const p of pushes) assert.equal(p.replicas, 3, 'WeightsPushed counts every replica');
    const stageVersions = evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics['gen/weight_version']] : []));
    assert.deepEqual(stageVersions, pushes.map((p) => Number(p.version)), 'every stage sampled from exactly the version it pushed');
    assert.deepEqual(await versionsOf(gens, GeneratorService), gens.map(() => pushes.at(-1)!.version), 'all replicas end on the same version');
    const items = itemsOf(evs, 'generator');
    for (const g of gens) assert.ok(items[g.address]! > 0, `replica ${g.address} did no work: ${JSON.stringify(items)}`);
  });

  it('RFT over 3 generators and 2 reward models: both pools end on one version each, work reaches every replica', async () => {
    const evs = await runJob({
      algorithm: Algorithm.RFT,
      datasets: [{ path: data.files.train, schema: DataSchema.CHAT }],
      hyperparameters: { batchSize: 8, learningRate: 1e-3 },
      algorithmConfig: { case: 'rft', value: { rounds: 2, promptsPerRound: 8, samplesPerPrompt: 2, policyEpochs: 1, generation: { maxNewTokens: 8 }, rewardUpdate: { learningRate: 3e-3, epochs: 1 } } },
    });
    for (const p of pushesOf(evs, 'generator')) assert.equal(p.replicas, 3);
    for (const p of pushesOf(evs, 'reward_model')) assert.equal(p.replicas, 2);
    assert.deepEqual(await versionsOf(gens, GeneratorService), gens.map(() => pushesOf(evs, 'generator').at(-1)!.version));
    assert.deepEqual(await versionsOf(rms, RewardModelService), rms.map(() => pushesOf(evs, 'reward_model').at(-1)!.version));
    const rounds = evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics] : []));
    assert.deepEqual(rounds.map((r) => r['gen/weight_version']), pushesOf(evs, 'generator').slice(0, 2).map((p) => Number(p.version)));
    const g = itemsOf(evs, 'generator');
    const r = itemsOf(evs, 'reward model');
    for (const x of gens) assert.ok(g[x.address]! > 0, `generator ${x.address} did no work: ${JSON.stringify(g)}`);
    for (const x of rms) assert.ok(r[x.address]! > 0, `reward model ${x.address} did no work: ${JSON.stringify(r)}`);
  });

  it('a generator SIGKILLed mid-stage: the job completes; restarted on its port it serves the pool version before taking work', async () => {
    let restarted: Promise<void> | undefined;
    const evs = await runJob(
      {
        algorithm: Algorithm.IRFT,
        datasets: [{ path: data.files.train, schema: DataSchema.CHAT, maxRows: 48n }],
        hyperparameters: { batchSize: 8, learningRate: 3e-3 },
        algorithmConfig: { case: 'irft', value: { stages: 3, stepsPerStage: 2n, beta: 0.5, generationBatchSize: 4, generation: { temperature: 0, maxNewTokens: 16 } } },
      },
      (e) => {
        // Right after the first push the stage's Generate calls are in flight on all three replicas.
        if (e.event.case === 'weightsPushed' && !restarted) {
          gens[0]!.proc.kill('SIGKILL');
          restarted = (async () => {
            await gens[0]!.exited;
            gens[0] = await startRole('generator', genArgs(ports[0]!));
          })();
        }
      },
    );
    await restarted;
    const downs = evs.filter((e) => e.event.case === 'log' && e.event.value.attributes['event'] === 'down');
    assert.ok(downs.length >= 1, 'the pool reported the lost replica');
    const pushes = pushesOf(evs, 'generator');
    const stageVersions = evs.flatMap((e) => (e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined ? [e.event.value.metrics['gen/weight_version']] : []));
    assert.equal(stageVersions.length, 3);
    for (const v of stageVersions) assert.ok(pushes.some((p) => Number(p.version) === v), `stage version ${v} was pushed`);
    // The restarted replica came back (admitted with the current version) before the job's last push.
    assert.equal(pushes.at(-1)!.replicas, 3, `the last push reached all 3 replicas: ${pushes.map((p) => p.replicas).join(', ')}`);
    assert.deepEqual(await versionsOf(gens, GeneratorService), gens.map(() => pushes.at(-1)!.version));
  });

  it('an evaluation against the pool gives the metrics of one against a single generator', async () => {
    const evaluator = await startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks')]);
    const client = createClient(EvaluatorService, evaluator.address);
    try {
      const tasks = (await client.listTasks({})).tasks.map((t) => ({ kind: { case: 'name' as const, value: t.name } }));
      assert.ok(tasks.length >= 1);
      const evaluate = async (address: string) => {
        const { runId } = await client.evaluate({ target: { kind: { case: 'generatorAddress', value: address } }, tasks, limit: 8, batchSize: 4 });
        const states: RunState[] = [];
        for await (const e of client.watchRun({ runId, fromBeginning: true })) if (e.event.case === 'state') states.push(e.event.value);
        assert.equal(states.at(-1), RunState.SUCCEEDED);
        return (await client.getReport({ runId })).results.map((r) => [r.task, r.metrics]);
      };
      const single = await evaluate(gens[1]!.address);
      const pool = await evaluate(gens.map((g) => g.address).join(','));
      // Same documents, same answers; log-likelihoods may differ in float32 rounding only (a replica pads
      // a different share of the batch), far below any metric's reported precision.
      assert.deepEqual(pool.map(([task, m]) => [task, Object.keys(m as object).sort()]), single.map(([task, m]) => [task, Object.keys(m as object).sort()]));
      pool.forEach(([task, m], i) => {
        for (const [k, v] of Object.entries(m as Record<string, number>)) {
          const want = (single[i]![1] as Record<string, number>)[k]!;
          assert.ok(Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${task} ${k}: pool ${v}, single ${want}`);
        }
      });
    } finally {
      client.close();
      await evaluator.stop();
    }
  });
});
