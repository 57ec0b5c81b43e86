// The four roles as their own processes, each serving mutual TLS and checking bearer tokens: an IRFT job
// (the trainer pushes weights to the generator and samples from it, over mTLS with its own token) and an
// Evaluate of the live generator (the evaluator calls it the same way) succeed, and every refusal the
// transport promises is observed from outside: no token, read token on a write call, no client
// certificate, non-loopback bind without tokens, undecodable request bytes. Health stays open.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { writeSyntheticDatasets } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { Algorithm, DataSchema, EvaluatorService, GeneratorService, JobState, RewardModelService, RunState, TrainerService, type WatchJobResponse, type WatchRunResponse } from '@juice/proto';
import { Metadata, ServiceError, clientCredentials, createClient, status, type ClientOptions } from '@juice/service-kit';
import { makeTestPki, type TestPki } from '../support/certs.js';
import { healthStatus } from '../support/grpc-tools.js';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const work = mkdtempSync(join(tmpdir(), 'juice-security-'));
const WRITE = 'write-token-' + 'a1'.repeat(16);
const READ = 'read-token-' + 'b2'.repeat(16);
let pki: TestPki;
let generator: RunningRole;
let rewardModel: RunningRole;
let trainer: RunningRole;
let evaluator: RunningRole;
let taskNames: string[] = [];
let dataFile = '';

before(async () => {
  mkdirSync(join(work, 'pki'));
  pki = makeTestPki(join(work, 'pki'));
  const tokensFile = join(work, 'tokens');
  writeFileSync(tokensFile, `# juice tokens: TOKEN SCOPE\n${WRITE} write\n${READ} read\n`);
  const peerToken = join(work, 'peer-token');
  writeFileSync(peerToken, `${WRITE}\n`);
  const serve = ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-client-ca', pki.ca, '--auth-tokens', tokensFile];
  const peer = ['--peer-tls-ca', pki.ca, '--peer-tls-cert', pki.clientCert, '--peer-tls-key', pki.clientKey, '--peer-token-file', peerToken];

  const data = await writeSyntheticDatasets(join(work, 'data'), { seed: 3, trainSize: 16, evalSize: 4 });
  dataFile = data.files.train;
  // A model of the default shape: the IRFT job pushes its own weights before sampling.
  const model = join(work, 'serve-model');
  createDefaultModel(model, { corpus: ['What is 1+1? 2'], seed: 9 });
  [generator, rewardModel, evaluator] = await Promise.all([
    startRole('generator', ['--model', model, ...serve]),
    startRole('reward-model', ['--model', model, ...serve]),
    startRole('evaluator', ['--tasks-dir', join(work, 'data', 'tasks'), '--store', join(work, 'store'), ...serve, ...peer]),
  ]);
  trainer = await startRole('trainer', ['--store', join(work, 'store'), '--generator', generator.address, ...serve, ...peer]);
});
after(async () => {
  await Promise.all([trainer, evaluator, generator, rewardModel].map((r) => r?.stop()));
});

const mtls = () => clientCredentials({ ca: pki.ca, cert: pki.clientCert, key: pki.clientKey });
const as = (token?: string): ClientOptions => ({ credentials: mtls(), metadata: token ? { authorization: `Bearer ${token}` } : {} });
const code = (c: number) => (e: unknown) => e instanceof ServiceError && e.code === c;

test('an IRFT job runs across TLS + tokens: the trainer pushes to and samples from the generator with its own token', async () => {
  const client = createClient(TrainerService, trainer.address, as(WRITE));
  try {
    const { job } = await client.startJob({
      spec: {
        algorithm: Algorithm.IRFT,
        datasets: [{ path: dataFile, schema: DataSchema.CHAT }],
        hyperparameters: { batchSize: 4, learningRate: 3e-3 },
        algorithmConfig: { case: 'irft', value: { stages: 1, stepsPerStage: 2n, beta: 0.5, generation: { temperature: 0, maxNewTokens: 8 } } },
      },
    });
    // Watching is a read call: the read token is enough.
    const reader = createClient(TrainerService, trainer.address, as(READ));
    const events: WatchJobResponse[] = [];
    for await (const e of reader.watchJob({ jobId: job!.id, fromBeginning: true })) events.push(e);
    reader.close();
    const errors = events.filter((e) => e.event.case === 'error').map((e) => JSON.stringify(e.event.value));
    const final = events.filter((e) => e.event.case === 'stateChange').at(-1)!;
    assert.equal(final.event.case === 'stateChange' && final.event.value.to, JobState.SUCCEEDED, errors.join('\n'));
    assert.equal(events.filter((e) => e.event.case === 'weightsPushed').length, 1, 'the push to the mTLS generator went through');
    assert.ok(events.some((e) => e.event.case === 'stepMetrics' && e.event.value.metrics['gen/weight_version'] !== undefined), 'negatives were sampled from the generator');
  } finally {
    client.close();
  }
});

test('an Evaluate of the live generator runs across TLS + tokens', async () => {
  const client = createClient(EvaluatorService, evaluator.address, as(WRITE));
  try {
    taskNames = (await client.listTasks({})).tasks.map((t) => t.name);
    assert.ok(taskNames.length > 0);
    const { runId } = await client.evaluate({ target: { kind: { case: 'generatorAddress', value: generator.address } }, tasks: [{ kind: { case: 'name', value: taskNames[0]! } }], limit: 4, batchSize: 4 });
    const events: WatchRunResponse[] = [];
    for await (const e of client.watchRun({ runId, fromBeginning: true })) events.push(e);
    const states = events.flatMap((e) => (e.event.case === 'state' ? [e.event.value] : []));
    assert.equal(states.at(-1), RunState.SUCCEEDED, JSON.stringify(events.filter((e) => e.event.case === 'error').map((e) => e.event.value)));
    const report = await client.getReport({ runId });
    assert.equal(Number(report.results[0]?.numDocs), 4);
  } finally {
    client.close();
  }
});

test('no token: UNAUTHENTICATED; read token: read calls answer, write calls PERMISSION_DENIED — on all four roles', async () => {
  const gen = { anon: createClient(GeneratorService, generator.address, as()), read: createClient(GeneratorService, generator.address, as(READ)) };
  const rm = { anon: createClient(RewardModelService, rewardModel.address, as()), read: createClient(RewardModelService, rewardModel.address, as(READ)) };
  const tr = { anon: createClient(TrainerService, trainer.address, as()), read: createClient(TrainerService, trainer.address, as(READ)) };
  const ev = { anon: createClient(EvaluatorService, evaluator.address, as()), read: createClient(EvaluatorService, evaluator.address, as(READ)) };
  try {
    await assert.rejects(gen.anon.getModelInfo({}), code(status.UNAUTHENTICATED));
    await assert.rejects(rm.anon.score({}), code(status.UNAUTHENTICATED));
    await assert.rejects(tr.anon.listJobs({}), code(status.UNAUTHENTICATED));
    await assert.rejects(ev.anon.listTasks({}), code(status.UNAUTHENTICATED));
    await assert.rejects(gen.anon.pushWeights([]), code(status.UNAUTHENTICATED));
    const wrong = createClient(TrainerService, trainer.address, as('not-a-token-this-server-knows'));
    await assert.rejects(wrong.listJobs({}), code(status.UNAUTHENTICATED));
    wrong.close();

    assert.ok((await gen.read.getModelInfo({})).model);
    assert.ok((await rm.read.getModelInfo({})).model);
    assert.ok((await tr.read.listJobs({})).jobs.length >= 1);
    assert.ok((await ev.read.listTasks({})).tasks.length >= 1);

    await assert.rejects(gen.read.pushWeights([]), code(status.PERMISSION_DENIED));
    await assert.rejects(gen.read.activateWeights({}), code(status.PERMISSION_DENIED));
    await assert.rejects(rm.read.pushWeights([]), code(status.PERMISSION_DENIED));
    await assert.rejects(tr.read.startJob({}), code(status.PERMISSION_DENIED));
    await assert.rejects(tr.read.cancelJob({ jobId: 'x' }), code(status.PERMISSION_DENIED));
    await assert.rejects(tr.read.resumeJob({ jobId: 'x' }), code(status.PERMISSION_DENIED));
    await assert.rejects(ev.read.evaluate({}), code(status.PERMISSION_DENIED));
    await assert.rejects(ev.read.cancelRun({ runId: 'x' }), code(status.PERMISSION_DENIED));
  } finally {
    for (const c of [gen, rm, tr, ev]) for (const x of Object.values(c)) x.close();
  }
});

test('mutual TLS: without a client certificate, or in plaintext, no role can be reached; health answers without a token', async () => {
  for (const role of [generator, rewardModel, trainer, evaluator]) {
    const noCert = createClient(GeneratorService, role.address, { credentials: clientCredentials({ ca: pki.ca }), metadata: { authorization: `Bearer ${WRITE}` } });
    const plain = createClient(GeneratorService, role.address, { credentials: grpc.credentials.createInsecure(), metadata: { authorization: `Bearer ${WRITE}` } });
    try {
      await assert.rejects(noCert.getWeightVersion({}, { deadlineMs: 5000 }), code(status.UNAVAILABLE), `${role.role} without a client certificate`);
      await assert.rejects(plain.getWeightVersion({}, { deadlineMs: 5000 }), code(status.UNAVAILABLE), `${role.role} in plaintext`);
    } finally {
      noCert.close();
      plain.close();
    }
    assert.equal(await healthStatus(role.address, '', mtls()), 'SERVING', role.role);
  }
});

test('undecodable request bytes are INVALID_ARGUMENT on every role', async () => {
  const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff]);
  const id = (b: Buffer) => b;
  const meta = new Metadata();
  meta.set('authorization', `Bearer ${WRITE}`);
  for (const [role, path] of [
    [generator, '/juice.v1.GeneratorService/Generate'],
    [rewardModel, '/juice.v1.RewardModelService/Score'],
    [trainer, '/juice.v1.TrainerService/StartJob'],
    [evaluator, '/juice.v1.EvaluatorService/Evaluate'],
  ] as const) {
    const raw = new grpc.Client(role.address, mtls());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve) => raw.makeUnaryRequest(path, id, id, garbage, meta, (e) => resolve(e!)));
      assert.equal(err.code, status.INVALID_ARGUMENT, `${path}: ${err.details}`);
      assert.match(err.details, /request bytes are not a valid juice\.v1\./);
    } finally {
      raw.close();
    }
  }
  // A streamed request too: a weight push whose chunk is not a WeightChunk.
  const raw = new grpc.Client(generator.address, mtls());
  try {
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const call = raw.makeClientStreamRequest('/juice.v1.GeneratorService/PushWeights', id, id, meta, (e) => resolve(e!));
      call.write(garbage);
      call.end();
    });
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, /not a valid juice\.v1\.WeightChunk/);
  } finally {
    raw.close();
  }
});

test('a role asked to listen beyond loopback without --auth-tokens refuses to start and says why', async () => {
  await assert.rejects(startRole('generator', ['--host', '0.0.0.0']), (e: Error) => /exited with code 2/.test(e.message) && /refusing to listen on 0\.0\.0\.0 without authentication.*--auth-tokens/.test(e.message));
});
