// Hostile input against every RPC of every service, each role its own process: random bytes, messages
// filled from the descriptors with boundary and non-finite values, unknown enum numbers, oversized
// fields, path tricks (.., symlinks to /etc/passwd, /proc/self/environ, /dev/zero, a FIFO) and a
// catastrophic regex. After each batch (one method) the role is still SERVING and answers a normal
// request correctly, and no response (status message, error details or body) quotes a probed file or
// the process environment. Seeded (JUICE_FUZZ_SEED) so a failure reproduces; bounded well under 90 s.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ScalarType, create, toBinary, type DescField, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { mulberry32 } from '@juice/data';
import { createDefaultModel } from '@juice/models';
import { DataSchema, EvaluatorService, GeneratorService, RewardModelService, RunState, TaskKind, TrainerService, juiceServices } from '@juice/proto';
import { createClient, status } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';
import { healthStatus } from '../support/grpc-tools.js';

const SEED = Number(process.env.JUICE_FUZZ_SEED ?? 20240612);
const rng = mulberry32(SEED);
const rand = () => rng.next();
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

const work = mkdtempSync(join(tmpdir(), 'juice-fuzz-'));
const CANARY = `canary-${SEED}-${Math.floor(rand() * 1e9)}`;
const PASSWD_MARK = 'root:x:0';
const roles: Partial<Record<'generator' | 'reward-model' | 'trainer' | 'evaluator', RunningRole>> = {};
const counts = { calls: 0, randomBytes: 0, structured: 0, probes: 0, codes: {} as Record<string, number> };

// Path tricks, all inside the temp directory the roles may read (their data root) unless noted.
const trick = join(work, 'tricks');
const PATHS: string[] = [];
function makeTricks(): void {
  mkdirSync(trick, { recursive: true });
  symlinkSync('/etc/passwd', join(trick, 'passwd.jsonl'));
  symlinkSync('/proc/self/environ', join(trick, 'environ.jsonl'));
  symlinkSync('/dev/zero', join(trick, 'zero.jsonl'));
  symlinkSync('/etc', join(trick, 'etc-dir'));
  execFileSync('mkfifo', [join(trick, 'fifo.jsonl')]);
  // Readable under the root but not JSON: the error must name line and column, not quote the text.
  writeFileSync(join(trick, 'passwd-copy.jsonl'), readFileSync('/etc/passwd'));
  writeFileSync(join(trick, 'environ-copy.jsonl'), `SECRET=${CANARY}\0HOME=/root\0`);
  PATHS.push(
    '/etc/passwd',
    '/proc/self/environ',
    '/dev/zero',
    '/root/.ssh/id_rsa',
    '/etc',
    `${trick}/../../../../../../etc/passwd`,
    '../../../etc/passwd',
    join(trick, 'passwd.jsonl'),
    join(trick, 'environ.jsonl'),
    join(trick, 'zero.jsonl'),
    join(trick, 'etc-dir'),
    join(trick, 'etc-dir', 'passwd'),
    join(trick, 'fifo.jsonl'),
    join(trick, 'passwd-copy.jsonl'),
    join(trick, 'environ-copy.jsonl'),
    '',
    'x'.repeat(100_000),
    'a\0b',
  );
}

// ---- values from the descriptors -------------------------------------------------------------

const FLOATS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 3.4e38, -3.4e38, 1e-45, 0.5, 1, 2];
const DOUBLES = [...FLOATS, 1e308, -1e-308];
const INTS = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 7, 1024, 65536];
const UINTS = [0, 1, 2 ** 32 - 1, 7, 1024, 4096];
const BIGS = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 5n];
const UBIGS = [0n, 1n, 2n ** 64n - 1n, 5n];
const CATASTROPHIC = ['^(a+)+$', '(a|aa)+$', '(.*a){20}', '(a)\\1', '(?=a)', '['];

function stringFor(f: DescField): string {
  const n = f.name;
  if (/path|hf_dir|dir$/.test(n)) return pick(PATHS);
  if (/regex/.test(n)) return pick(CATASTROPHIC);
  if (/address/.test(n)) return pick(['127.0.0.1:1', 'unix:///etc/passwd', '', 'x'.repeat(10_000)]);
  return pick(['', 'a', 'x'.repeat(pick([129, 5000, 200_000])), '\u0000\uffff\ud800', '../../etc/passwd', '{{ 7*7 }}', "{% for x in range(99999999) %}{% endfor %}"]);
}

function scalarFor(f: DescField, scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return pick(DOUBLES);
    case ScalarType.FLOAT:
      return pick(FLOATS);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return pick(INTS);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return pick(UINTS);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return pick(BIGS);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return pick(UBIGS);
    case ScalarType.BOOL:
      return rand() < 0.5;
    case ScalarType.STRING:
      return stringFor(f);
    case ScalarType.BYTES:
      return Uint8Array.from({ length: pick([0, 3, 1000]) }, () => Math.floor(rand() * 256));
  }
}

const enumFor = (f: DescField) => (rand() < 0.3 ? pick([99, -1, 2 ** 31 - 1]) : pick(f.enum!.values).number);

/** A message with random fields set (each with probability p), recursing to a bounded depth. */
function randomMessage(schema: DescMessage, depth = 0): Record<string, unknown> {
  const msg: Record<string, unknown> = {};
  if (depth > 4 || schema.typeName.startsWith('google.protobuf.')) return msg;
  const oneofsDone = new Set<string>();
  for (const f of schema.fields) {
    if (rand() > 0.6) continue;
    let value: unknown;
    const one = (): unknown => {
      switch (f.fieldKind) {
        case 'scalar':
          return scalarFor(f, f.scalar);
        case 'enum':
          return enumFor(f);
        case 'message':
          return randomMessage(f.message, depth + 1);
        default:
          return undefined;
      }
    };
    if (f.fieldKind === 'list') {
      const n = pick([0, 1, 2, 3, rand() < 0.05 ? 2000 : 1]);
      value = Array.from({ length: n }, () => (f.listKind === 'scalar' ? scalarFor(f, f.scalar) : f.listKind === 'enum' ? enumFor(f) : randomMessage(f.message, depth + 1)));
    } else if (f.fieldKind === 'map') {
      value = Object.fromEntries(Array.from({ length: pick([0, 1, 2, 70]) }, (_, i) => [`${stringFor(f).slice(0, 300)}${i}`, f.mapKind === 'scalar' ? scalarFor(f, f.scalar) : f.mapKind === 'enum' ? enumFor(f) : randomMessage(f.message, depth + 1)]));
    } else value = one();
    if (f.oneof) {
      if (oneofsDone.has(f.oneof.localName)) continue;
      oneofsDone.add(f.oneof.localName);
      msg[f.oneof.localName] = { case: f.localName, value };
    } else msg[f.localName] = value;
  }
  return msg;
}

function encode(schema: DescMessage, init: Record<string, unknown>): Buffer {
  return Buffer.from(toBinary(schema, create(schema, init as never)));
}

// ---- raw calls (bytes in, bytes out) so undecodable requests can be sent ---------------------

const clients = new Map<string, grpc.Client>();
function rawClient(address: string): grpc.Client {
  let c = clients.get(address);
  if (!c) clients.set(address, (c = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20, 'grpc.max_receive_message_length': 64 << 20 })));
  return c;
}

interface Outcome {
  code: number;
  text: string;
}

const id = (b: Buffer) => b;

/** One call of any kind with raw request bytes; resolves with the status and everything the server sent back. */
function rawCall(address: string, method: DescMethod, requests: Buffer[], timeoutMs = 5000): Promise<Outcome> {
  const c = rawClient(address);
  const path = `/${method.parent.typeName}/${method.name}`;
  const deadline = Date.now() + timeoutMs;
  const texts: string[] = [];
  const collect = (b: Buffer) => texts.push(b.toString('latin1'));
  const end = (err: grpc.ServiceError | null, resolve: (o: Outcome) => void) => {
    if (err) {
      texts.push(err.details ?? '');
      for (const v of Object.values(err.metadata?.getMap() ?? {})) texts.push(Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
    }
    counts.calls++;
    const code = err ? err.code : status.OK;
    counts.codes[status[code]!] = (counts.codes[status[code]!] ?? 0) + 1;
    resolve({ code, text: texts.join('\n') });
  };
  return new Promise((resolve) => {
    switch (method.methodKind) {
      case 'unary':
        c.makeUnaryRequest(path, id, id, requests[0]!, { deadline }, (err, res) => {
          if (res) collect(res);
          end(err, resolve);
        });
        return;
      case 'server_streaming': {
        const call = c.makeServerStreamRequest(path, id, id, requests[0]!, { deadline });
        call.on('data', collect);
        call.on('error', (e: grpc.ServiceError) => end(e, resolve));
        call.on('end', () => end(null, resolve));
        call.on('status', () => undefined);
        return;
      }
      case 'client_streaming': {
        const call = c.makeClientStreamRequest(path, id, id, { deadline }, (err, res) => {
          if (res) collect(res);
          end(err, resolve);
        });
        for (const r of requests) call.write(r);
        call.end();
        return;
      }
      case 'bidi_streaming': {
        const call = c.makeBidiStreamRequest(path, id, id, { deadline });
        call.on('data', collect);
        call.on('error', (e: grpc.ServiceError) => end(e, resolve));
        call.on('end', () => end(null, resolve));
        for (const r of requests) call.write(r);
        call.end();
        return;
      }
    }
  });
}

function assertNoLeak(o: Outcome, what: string): void {
  assert.ok(!o.text.includes(PASSWD_MARK), `${what}: a response quotes /etc/passwd:\n${o.text.slice(0, 500)}`);
  assert.ok(!o.text.includes(CANARY), `${what}: a response quotes the process environment:\n${o.text.slice(0, 500)}`);
  assert.ok(o.text.length < 200_000 || o.code === status.OK, `${what}: an error echoes ${o.text.length} characters`);
}

// ---- a normal request per role, answered correctly --------------------------------------------

const ROLE_OF: Record<string, keyof typeof roles> = {
  [GeneratorService.typeName]: 'generator',
  [RewardModelService.typeName]: 'reward-model',
  [TrainerService.typeName]: 'trainer',
  [EvaluatorService.typeName]: 'evaluator',
};

async function assertHealthy(service: DescService): Promise<void> {
  const role = roles[ROLE_OF[service.typeName]!]!;
  assert.equal(role.proc.exitCode, null, `${role.role} exited:\n${role.stderr().slice(-2000)}`);
  const t = performance.now();
  assert.equal(await healthStatus(role.address, service.typeName), 'SERVING');
  assert.ok(performance.now() - t < 2000, `${role.role} health took ${performance.now() - t} ms`);
  if (service === GeneratorService) {
    const c = createClient(GeneratorService, role.address);
    const r = await c.generate({ prompts: [{ kind: { case: 'text', value: 'hello' } }], sampling: { temperature: 0, maxNewTokens: 3 } }, { deadlineMs: 10_000 });
    c.close();
    assert.equal(r.results.length, 1);
    assert.ok(r.results[0]!.samples[0]!.tokenIds.length >= 1);
  } else if (service === RewardModelService) {
    const c = createClient(RewardModelService, role.address);
    const r = await c.score({ items: [{ prompt: { kind: { case: 'text', value: 'q' } }, response: { kind: { case: 'text', value: 'a' } } }] }, { deadlineMs: 10_000 });
    c.close();
    assert.equal(r.results.length, 1);
    assert.ok(Number.isFinite(r.results[0]!.reward));
  } else if (service === TrainerService) {
    const c = createClient(TrainerService, role.address);
    const r = await c.startJob({ validateOnly: true, spec: { algorithm: 1, datasets: [{ path: join(work, 'train.jsonl'), schema: DataSchema.PROMPT_COMPLETION }] } }, { deadlineMs: 10_000 });
    c.close();
    assert.equal(r.job?.dataFiles.length, 1);
  } else {
    const c = createClient(EvaluatorService, role.address);
    const r = await c.listTasks({}, { deadlineMs: 10_000 });
    c.close();
    assert.ok(Array.isArray(r.tasks));
  }
}

before(async () => {
  makeTricks();
  const model = join(work, 'model');
  createDefaultModel(model, { corpus: ['What is 2+3? 2+3=5', 'hello world', 'aaaa'], seed: 1 });
  writeFileSync(join(work, 'train.jsonl'), '{"prompt": "1+1=", "completion": "2"}\n{"prompt": "2+2=", "completion": "4"}\n');
  writeFileSync(join(work, 'aaa.jsonl'), Array.from({ length: 4 }, () => JSON.stringify({ q: 'a', a: 'a'.repeat(30) + 'b' })).join('\n') + '\n');
  const env = { JUICE_FUZZ_SECRET: CANARY };
  const [g, rm, tr] = await Promise.all([
    startRole('generator', ['--model', model, '--max-batch', '4'], { env }),
    startRole('reward-model', ['--model', model], { env }),
    startRole('trainer', ['--store', join(work, 'store')], { env }),
  ]);
  roles.generator = g;
  roles['reward-model'] = rm;
  roles.trainer = tr;
  roles.evaluator = await startRole('evaluator', ['--store', join(work, 'store')], { env });
});

after(async () => {
  for (const c of clients.values()) c.close();
  await Promise.all(Object.values(roles).map((r) => r?.stop('SIGKILL')));
  rmSync(work, { recursive: true, force: true });
  console.log(`fuzz seed ${SEED}: ${counts.calls} calls (${counts.randomBytes} random-byte, ${counts.structured} structured, ${counts.probes} targeted probes); codes ${JSON.stringify(counts.codes)}`);
});

const PER_METHOD = Number(process.env.JUICE_FUZZ_PER_METHOD ?? 30);

test('every RPC of every service survives random bytes and descriptor-driven hostile messages', { timeout: 120_000 }, async () => {
  const started = performance.now();
  for (const service of juiceServices) {
    const address = roles[ROLE_OF[service.typeName]!]!.address;
    for (const method of service.methods) {
      // Cancelling weight pushes, jobs and runs mid-way is allowed; the batch's calls run concurrently.
      const calls: Promise<void>[] = [];
      for (let i = 0; i < PER_METHOD; i++) {
        const n = method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming' ? 1 + Math.floor(rand() * 3) : 1;
        const randomBytes = i % 3 === 0;
        const reqs = Array.from({ length: n }, () =>
          randomBytes ? Buffer.from(Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))) : encode(method.input, randomMessage(method.input)),
        );
        if (randomBytes) counts.randomBytes++;
        else counts.structured++;
        calls.push(
          rawCall(address, method, reqs).then((o) => {
            assertNoLeak(o, `${method.parent.name}/${method.name} #${i}`);
            // Nothing a client sends is the server's fault.
            assert.notEqual(o.code, status.INTERNAL, `${method.parent.name}/${method.name} #${i}: INTERNAL ${o.text.slice(0, 300)}`);
            assert.notEqual(o.code, status.UNKNOWN, `${method.parent.name}/${method.name} #${i}: UNKNOWN ${o.text.slice(0, 300)}`);
          }),
        );
      }
      await Promise.all(calls);
      await assertHealthy(service);
    }
  }
  console.log(`descriptor fuzz: ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

test('path tricks: refused with PERMISSION_DENIED / INVALID_ARGUMENT at once, never quoting the file', { timeout: 60_000 }, async () => {
  const trainer = createClient(TrainerService, roles.trainer!.address);
  const evaluator = createClient(EvaluatorService, roles.evaluator!.address);
  const expect = async (what: string, p: Promise<unknown>, codes: number[]) => {
    const t = performance.now();
    const e = await p.then(() => undefined, (x: unknown) => x as { code: number; message: string; details?: Record<string, string> });
    const ms = performance.now() - t;
    counts.probes++;
    assert.ok(e, `${what}: accepted`);
    assert.ok(codes.includes(e.code), `${what}: ${status[e.code]} ${e.message}`);
    assertNoLeak({ code: e.code, text: `${e.message} ${JSON.stringify(e.details ?? {})}` }, what);
    assert.ok(ms < 3000, `${what}: took ${ms} ms`);
  };
  const denied = [status.PERMISSION_DENIED];
  const deniedOrInvalid = [status.PERMISSION_DENIED, status.INVALID_ARGUMENT];
  const job = (path: string) => trainer.startJob({ validateOnly: true, spec: { algorithm: 1, datasets: [{ path, schema: DataSchema.PROMPT_COMPLETION }] } }, { deadlineMs: 10_000 });
  for (const p of ['/etc/passwd', '/proc/self/environ', '/root/.ssh/id_rsa', '/no/such/file', '../../../etc/passwd', join(trick, 'passwd.jsonl'), join(trick, 'environ.jsonl'), join(trick, 'etc-dir', 'passwd')]) await expect(`StartJob ${p}`, job(p), denied);
  for (const p of ['/dev/zero', join(trick, 'zero.jsonl'), join(trick, 'fifo.jsonl')]) await expect(`StartJob ${p}`, job(p), deniedOrInvalid);
  await expect('StartJob hf_dir=/etc', trainer.startJob({ validateOnly: true, spec: { algorithm: 1, model: { kind: { case: 'hfDir', value: '/etc' } }, datasets: [{ path: join(work, 'train.jsonl'), schema: 2 }] } }), denied);
  await expect('StartJob hf_dir=/root/.ssh', trainer.startJob({ validateOnly: true, spec: { algorithm: 1, model: { kind: { case: 'hfDir', value: '/root/.ssh' } }, datasets: [{ path: join(work, 'train.jsonl'), schema: 2 }] } }), denied);
  await expect('StartJob irft.beta=NaN', trainer.startJob({ validateOnly: true, spec: { algorithm: 4, algorithmConfig: { case: 'irft', value: { beta: Number.NaN } }, datasets: [{ path: join(work, 'train.jsonl'), schema: 2 }] } }), [status.INVALID_ARGUMENT]);
  await expect('GetJob 1 MB id', trainer.getJob({ jobId: 'j'.repeat(1 << 20) }), [status.INVALID_ARGUMENT]);
  const task = (path: string) => ({ kind: { case: 'definition' as const, value: { name: 't', kind: TaskKind.PERPLEXITY, dataset: { path } } } });
  const evaluate = (path: string) => evaluator.evaluate({ target: { kind: { case: 'generatorAddress', value: roles.generator!.address } }, tasks: [task(path)] }, { deadlineMs: 10_000 });
  for (const p of ['/etc/passwd', '/proc/self/environ', '/root/.ssh/id_rsa', join(trick, 'passwd.jsonl'), join(trick, 'environ.jsonl')]) await expect(`Evaluate ${p}`, evaluate(p), denied);
  for (const p of ['/dev/zero', join(trick, 'zero.jsonl'), join(trick, 'fifo.jsonl')]) await expect(`Evaluate ${p}`, evaluate(p), deniedOrInvalid);
  await expect('Evaluate hf_dir=/etc', evaluator.evaluate({ target: { kind: { case: 'model', value: { kind: { case: 'hfDir', value: '/etc' } } } }, tasks: [task(join(work, 'aaa.jsonl'))] }), denied);

  // Files a role may read but that are not JSON: the job / run fails naming file, line and column only.
  for (const p of [join(trick, 'passwd-copy.jsonl'), join(trick, 'environ-copy.jsonl')]) {
    const run = await evaluate(p);
    let final = run.run!;
    for (let i = 0; i < 100 && ![RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED].includes(final.state); i++) {
      await new Promise((r) => setTimeout(r, 100));
      final = (await evaluator.getReport({ runId: run.runId })).run!;
    }
    assert.equal(final.state, RunState.FAILED, `run on ${p}`);
    assert.match(final.error!.message, /(line |:)1: not valid JSON at column 1: /);
    assertNoLeak({ code: 0, text: JSON.stringify(final.error) }, `Evaluate ${p}`);
    const started = await trainer.startJob({ spec: { algorithm: 1, datasets: [{ path: p, schema: DataSchema.PROMPT_COMPLETION }], hyperparameters: { maxSteps: 1n } } });
    let j = started.job!;
    for (let i = 0; i < 150 && j.state <= 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      j = (await trainer.getJob({ jobId: j.id })).job!;
    }
    assert.ok(j.error, `job on ${p} failed with an error (state ${j.state})`);
    assertNoLeak({ code: 0, text: JSON.stringify(j.error) }, `StartJob ${p}`);
  }
  trainer.close();
  evaluator.close();
  await assertHealthy(TrainerService);
  await assertHealthy(EvaluatorService);
});

test('catastrophic regex and a 10 MB prompt: answered in milliseconds, the event loop stays free', { timeout: 60_000 }, async () => {
  const generator = createClient(GeneratorService, roles.generator!.address, { maxMessageBytes: 64 << 20 });
  const huge = 'x'.repeat(10 * 1024 * 1024);
  for (const call of [
    () => generator.generate({ prompts: [{ kind: { case: 'text', value: huge } }] }),
    () => generator.scoreCompletions({ items: [{ prompt: { kind: { case: 'text', value: huge } }, completion: { kind: { case: 'text', value: 'a' } } }] }),
  ]) {
    const t = performance.now();
    const e = await call().then(() => undefined, (x: { code: number; message: string }) => x);
    const ms = performance.now() - t;
    assert.ok(e && (e.code === status.INVALID_ARGUMENT || e.code === status.RESOURCE_EXHAUSTED), `10 MB prompt: ${e?.code}`);
    assert.match(e.message, /at most \d+ bytes/);
    console.log(`10 MB prompt refused in ${ms.toFixed(0)} ms (${status[e.code]})`);
    // Before the limit it took 11 s (9 s for ScoreCompletions); ~0.5 s is moving 10 MB over loopback, and a
    // loaded 2-core machine can triple that, so the bound separates the two cases without timing noise.
    assert.ok(ms < 5000, `took ${ms} ms`);
  }
  generator.close();

  const evaluator = createClient(EvaluatorService, roles.evaluator!.address);
  const run = await evaluator.evaluate({
    target: { kind: { case: 'generatorAddress', value: roles.generator!.address } },
    tasks: [{ kind: { case: 'definition', value: { name: 'redos', kind: TaskKind.GENERATE_MATCH, dataset: { path: join(work, 'aaa.jsonl') }, docToText: 'q', docToTarget: 'a', targetRegex: '^(a+)+$', answerRegex: '^(a+)+$', generation: { maxNewTokens: 4, temperature: 0 } } } }],
  });
  let maxHealthMs = 0;
  let state = run.run!.state;
  for (let i = 0; i < 200 && ![RunState.SUCCEEDED, RunState.FAILED].includes(state); i++) {
    const t = performance.now();
    assert.equal(await healthStatus(roles.evaluator!.address), 'SERVING');
    maxHealthMs = Math.max(maxHealthMs, performance.now() - t);
    state = (await evaluator.getReport({ runId: run.runId })).run!.state;
    await new Promise((r) => setTimeout(r, 50));
  }
  evaluator.close();
  console.log(`^(a+)+$ run: ${RunState[state]}, evaluator health max ${maxHealthMs.toFixed(1)} ms`);
  assert.equal(state, RunState.SUCCEEDED);
  assert.ok(maxHealthMs < 1000);
});
