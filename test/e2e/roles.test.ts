// Every role as its own process on an ephemeral loopback port: health, reflection, bad input rejected
// with INVALID_ARGUMENT naming the field (and the next call still answered), and SIGTERM draining an
// in-flight call before exiting 0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import {
  Algorithm,
  DataSchema,
  EvaluatorService,
  GeneratorService,
  ModelHead,
  RewardModelService,
  RunState,
  TaskKind,
  TrainerService,
  WeightChunkSchema,
  weightChunkSha256,
  type WeightChunk,
} from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { createDefaultModel } from '@juice/models';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { healthStatus, reflectedServices } from '../support/grpc-tools.js';

const work = mkdtempSync(join(tmpdir(), 'juice-roles-'));

let modelDir: string | undefined;
function tinyModelDir(): string {
  if (modelDir) return modelDir;
  const dir = (modelDir = join(work, 'model'));
  createDefaultModel(dir, { corpus: ['What is 2+3? 2+3=5', 'hello world'], seed: 1 });
  return dir;
}

async function expectStatus(p: Promise<unknown>, code: number, fieldInMessage?: string): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServiceError, `expected a ServiceError, got ${e}`);
    assert.equal(e.code, code, `expected status ${status[code]}, got ${status[e.code]}: ${e.message}`);
    if (fieldInMessage) assert.ok(e.message.includes(fieldInMessage), `message should name ${fieldInMessage}: ${e.message}`);
    return e;
  }
  assert.fail(`expected status ${status[code]}, the call succeeded`);
}

/** A request held open by the client: lets the test send SIGTERM while the call is in flight. */
function pushOpenStream(): { chunks: AsyncIterable<WeightChunk>; finish: () => void } {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const header = create(WeightChunkSchema, { sequence: 0n, header: { version: { number: 1n }, totalTensors: 1, totalBytes: 4n }, sha256: weightChunkSha256([]) });
  async function* chunks() {
    yield header;
    await released;
  }
  return { chunks: chunks(), finish: release };
}

async function assertServing(role: RunningRole, fullName: string) {
  assert.equal(await healthStatus(role.address), 'SERVING');
  assert.equal(await healthStatus(role.address, fullName), 'SERVING');
  const services = await reflectedServices(role.address);
  assert.ok(services.includes(fullName), `reflection lists ${fullName}: ${services.join(', ')}`);
}

async function assertDrainsOnSigterm(role: RunningRole, inFlight: Promise<unknown>, release: () => void, expectCode: number | 'ok') {
  await new Promise((r) => setTimeout(r, 500)); // the call reaches the server (generous: CI runs test files in parallel)
  const t0 = Date.now();
  const exit = role.stop('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(role.proc.exitCode, null, 'the process waits for the in-flight call');
  release();
  if (expectCode === 'ok') await inFlight;
  else await expectStatus(inFlight, expectCode);
  assert.equal(await exit, 0, `exit code 0; stderr:\n${role.stderr()}`);
  assert.ok(Date.now() - t0 < 5000, 'exits within a few seconds');
}

describe('generator', () => {
  let role: RunningRole;
  before(async () => (role = await startRole('generator', ['--model', tinyModelDir()])));
  after(() => role.stop('SIGKILL'));

  test('health and reflection', () => assertServing(role, 'juice.v1.GeneratorService'));

  test('bad input: INVALID_ARGUMENT naming the field, then the next call is answered', async () => {
    const c = createClient(GeneratorService, role.address);
    await expectStatus(c.generate({ prompts: [] }), status.INVALID_ARGUMENT, 'prompts');
    await expectStatus(c.generate({ prompts: [{ kind: { case: 'text', value: 'hi' } }], sampling: { topP: 1.5 } }), status.INVALID_ARGUMENT, 'sampling.top_p');
    await expectStatus(c.generate({ prompts: [{ kind: { case: 'tokens', value: { ids: [1, 999] } } }] }), status.INVALID_ARGUMENT, 'prompts[0].tokens.ids[1]');
    await expectStatus(c.generate({ prompts: [{ kind: { case: 'text', value: 'hi' } }], sampling: { maxNewTokens: 100000 } }), status.INVALID_ARGUMENT, 'sampling.max_new_tokens');
    await expectStatus(c.scoreCompletions({ items: [{ prompt: { kind: { case: 'text', value: 'a' } } }] }), status.INVALID_ARGUMENT, 'items[0].completion');
    const info = await c.getModelInfo({});
    assert.equal(info.model?.architecture, 'llama');
    assert.equal(info.model?.vocabSize, 512);
    assert.equal(info.model?.numKeyValueHeads, 2);
    assert.equal(info.model?.tokenizer?.hasChatTemplate, true);
    c.close();
  });

  test('SIGTERM drains an in-flight call and exits 0', async () => {
    const c = createClient(GeneratorService, role.address);
    const { chunks, finish } = pushOpenStream();
    // The push is cut short after its header, so the handler's own answer (an incomplete push) arrives.
    await assertDrainsOnSigterm(role, c.pushWeights(chunks), finish, status.INVALID_ARGUMENT);
    c.close();
  });
});

describe('reward-model', () => {
  let role: RunningRole;
  before(async () => (role = await startRole('reward-model', ['--model', tinyModelDir()])));
  after(() => role.stop('SIGKILL'));

  test('health and reflection', () => assertServing(role, 'juice.v1.RewardModelService'));

  test('bad input: INVALID_ARGUMENT naming the field, then the next call is answered', async () => {
    const c = createClient(RewardModelService, role.address);
    await expectStatus(c.score({ items: [] }), status.INVALID_ARGUMENT, 'items');
    await expectStatus(c.compare({ pairs: [{ prompt: { kind: { case: 'text', value: 'q' } }, responseA: { kind: { case: 'text', value: 'a' } } }] }), status.INVALID_ARGUMENT, 'pairs[0].response_b');
    assert.equal((await c.getModelInfo({})).model?.head, ModelHead.SCALAR_REWARD);
    c.close();
  });

  test('SIGTERM drains an in-flight call and exits 0', async () => {
    const c = createClient(RewardModelService, role.address);
    const { chunks, finish } = pushOpenStream();
    await assertDrainsOnSigterm(role, c.pushWeights(chunks), finish, status.INVALID_ARGUMENT);
    c.close();
  });
});

describe('trainer', () => {
  let role: RunningRole;
  // A long grace period: hashing the drain test's 2 GiB dataset takes seconds, and far longer on a loaded machine.
  before(async () => (role = await startRole('trainer', ['--store', join(work, 'store'), '--shutdown-grace-ms', '120000'])));
  after(() => role.stop('SIGKILL'));

  test('health and reflection', () => assertServing(role, 'juice.v1.TrainerService'));

  test('bad input: INVALID_ARGUMENT naming the field, then the next call is answered', async () => {
    const c = createClient(TrainerService, role.address);
    await expectStatus(c.startJob({ spec: { datasets: [{ path: 'x.jsonl' }] } }), status.INVALID_ARGUMENT, 'spec.algorithm');
    await expectStatus(
      c.startJob({ spec: { algorithm: Algorithm.IRFT, datasets: [{ path: 'x.jsonl', schema: DataSchema.CHAT }], hyperparameters: { batchSize: 5000 } } }),
      status.INVALID_ARGUMENT,
      'spec.hyperparameters.batch_size',
    );
    await expectStatus(c.startJob({ spec: { algorithm: Algorithm.DPO, datasets: [{ path: 'x.jsonl', schema: DataSchema.CHAT }] } }), status.INVALID_ARGUMENT, 'spec.datasets[0].schema');
    await expectStatus(c.startJob({ spec: { algorithm: Algorithm.SFT, datasets: [{ path: join(work, 'missing.jsonl'), schema: DataSchema.CHAT }] } }), status.NOT_FOUND, 'missing.jsonl');
    await expectStatus(c.getJob({ jobId: 'nope' }), status.NOT_FOUND, 'nope');
    await expectStatus(c.listJobs({ pageSize: 5000 }), status.INVALID_ARGUMENT, 'page_size');
    const listed = await c.listJobs({});
    assert.deepEqual(listed.jobs, []);
    c.close();
  });

  test('SIGTERM drains an in-flight call and exits 0', async () => {
    // Validation hashes the data (~0.7 s per GiB on one core), so a large sparse dataset keeps the call in
    // flight. No fixed "still running after N ms" check: a fast machine hashed 128 MiB before it. The proof
    // is the order of events: the call is unsettled when SIGTERM is sent, the role logs one call in flight
    // as it starts draining, and that call still completes successfully before the process exits 0.
    const big = join(work, 'demos.jsonl');
    const size = 2 * 1024 * 1024 * 1024;
    execFileSync('truncate', ['-s', String(size), big]);
    const c = createClient(TrainerService, role.address);
    let settled = false;
    const call = c.startJob({ validateOnly: true, spec: { algorithm: Algorithm.SFT, datasets: [{ path: big, schema: DataSchema.CHAT }] } });
    void call.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setTimeout(r, 300)); // the call reaches the server
    assert.equal(settled, false, 'the call is still in flight when SIGTERM is sent');
    const t0 = Date.now();
    const exit = role.stop('SIGTERM');
    const r = await call;
    assert.equal(r.job?.dataFiles[0]?.sizeBytes, BigInt(size));
    assert.equal(await exit, 0, `exit code 0; stderr:\n${role.stderr()}`);
    assert.match(role.stderr(), /signal received, draining[^\n]*"in_flight":1/, 'the role drained one in-flight call');
    assert.ok(Date.now() - t0 < 120_000, 'exits once the call is done, within the grace period');
    c.close();
  });
});

describe('evaluator', () => {
  let role: RunningRole;
  before(async () => (role = await startRole('evaluator')));
  after(() => role.stop('SIGKILL'));

  test('health and reflection', () => assertServing(role, 'juice.v1.EvaluatorService'));

  test('bad input: INVALID_ARGUMENT naming the field, then the next call is answered', async () => {
    const c = createClient(EvaluatorService, role.address);
    await expectStatus(c.evaluate({ tasks: [{ kind: { case: 'name', value: 'x' } }] }), status.INVALID_ARGUMENT, 'target');
    await expectStatus(
      c.evaluate({
        target: { kind: { case: 'generatorAddress', value: '127.0.0.1:1' } },
        tasks: [{ kind: { case: 'definition', value: { name: 'gsm', kind: TaskKind.GENERATE_MATCH, dataset: { path: 'd.jsonl' }, answerRegex: '(unclosed' } } }],
      }),
      status.INVALID_ARGUMENT,
      'tasks[0].definition.answer_regex',
    );
    await expectStatus(c.evaluate({ target: { kind: { case: 'generatorAddress', value: '127.0.0.1:1' } }, tasks: [{ kind: { case: 'name', value: 'nope' } }] }), status.NOT_FOUND, 'nope');
    assert.deepEqual((await c.listTasks({})).tasks, []);
    c.close();
  });

  test('SIGTERM drains an in-flight call and exits 0', async () => {
    // Evaluate answers at once and reads the data in the run; the run's generator here accepts connections
    // and never answers, so a WatchRun stream stays in flight until the test closes that generator.
    const sockets = new Set<Socket>();
    const silent = createServer((sock) => sockets.add(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const task = join(work, 'task.jsonl');
    writeFileSync(task, '{"text":"hello"}\n');
    const c = createClient(EvaluatorService, role.address);
    const { runId } = await c.evaluate({
      target: { kind: { case: 'generatorAddress', value: `127.0.0.1:${(silent.address() as AddressInfo).port}` } },
      tasks: [{ kind: { case: 'definition', value: { name: 'ppl', kind: TaskKind.PERPLEXITY, dataset: { path: task } } } }],
    });
    const watched = (async () => {
      let last: RunState | undefined;
      for await (const e of c.watchRun({ runId, fromBeginning: true })) if (e.event.case === 'state') last = e.event.value;
      assert.equal(last, RunState.FAILED);
    })();
    const release = () => {
      for (const s of sockets) s.destroy();
      silent.close();
    };
    await assertDrainsOnSigterm(role, watched, release, 'ok');
    c.close();
  });
});
