import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ServiceError,
  createClient,
  createLogger,
  startServer,
  status,
  type RunningServer,
} from '../src/index.js';
import { Echo } from './fixtures/echo-proto.js';
import { echoImpl, type Seen } from './fixtures/echo-impl.js';

const logLines: Record<string, unknown>[] = [];
const log = createLogger('echo-test', 'info', (line) => logLines.push(JSON.parse(line) as Record<string, unknown>));

async function rejectsWith(p: Promise<unknown>, code: status): Promise<ServiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ServiceError, `expected ServiceError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${status[code]}, got ${e.codeName}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${status[code]}, call succeeded`);
}

async function waitFor(cond: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('rpc round trips and errors', () => {
  const seen: Seen = new Map();
  let server: RunningServer;
  let client: ReturnType<typeof createClient<typeof Echo>>;

  before(async () => {
    server = await startServer({
      name: 'echo',
      services: [{ desc: Echo, impl: echoImpl(seen) }],
      host: '127.0.0.1',
      port: 0,
      maxMessageBytes: 1024 * 1024,
      log,
    });
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.ok(server.port > 0);
    client = createClient(Echo, server.address, { metadata: { 'x-id': 'abc' } });
  });
  after(async () => {
    client.close();
    await server.shutdown(0);
  });

  test('unary', async () => {
    const res = await client.say({ text: 'hi' });
    assert.equal(res.text, 'echo: hi');
    assert.equal(res.meta?.id, 'abc', 'client default metadata reaches ctx.metadata');
    assert.ok(res.at && res.at.seconds > 0n, 'WKT Timestamp field from a dependency file');
    const res2 = await client.say({ text: 'again' }, { metadata: { 'x-id': 'per-call' } });
    assert.equal(res2.meta?.id, 'per-call');
  });

  test('server streaming', async () => {
    const got: number[] = [];
    for await (const r of client.count({ to: 5 })) got.push(r.n);
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
  });

  test('client streaming (sync and async iterables)', async () => {
    const enc = new TextEncoder();
    const res = await client.collect([
      { data: enc.encode('ab'), text: 'a' },
      { data: enc.encode('cde'), text: 'b' },
    ]);
    assert.deepEqual({ chunks: res.chunks, bytes: res.bytes, joined: res.joined }, { chunks: 2, bytes: 5, joined: 'ab' });
    async function* gen() {
      for (let i = 0; i < 100; i++) yield { data: new Uint8Array(1000), text: String(i % 10) };
    }
    const res2 = await client.collect(gen());
    assert.equal(res2.chunks, 100);
    assert.equal(res2.bytes, 100_000);
  });

  test('bidi streaming', async () => {
    const out: string[] = [];
    for await (const r of client.chat([{ text: 'a' }, { text: 'b' }, { text: 'c' }])) out.push(r.text);
    assert.deepEqual(out, ['A', 'B', 'C']);
  });

  test('a method without handler answers UNIMPLEMENTED naming it', async () => {
    const e = await rejectsWith(client.missing({ text: 'x' }), status.UNIMPLEMENTED);
    assert.match(e.message, /kit\.test\.Echo\/Missing/);
  });

  test('invalidArgument reaches the client with the field; the server keeps serving', async () => {
    const e = await rejectsWith(client.say({ text: 'bad' }), status.INVALID_ARGUMENT);
    assert.equal(e.message, 'invalid field "prompts[2].sampling.top_p": must be in (0, 1], got 1.5');
    assert.equal(e.details.field, 'prompts[2].sampling.top_p');
    assert.equal((await client.say({ text: 'ok' })).text, 'echo: ok');
  });

  test('details survive the trip (non-ASCII too)', async () => {
    const e = await rejectsWith(client.say({ text: 'missing-model' }), status.NOT_FOUND);
    assert.deepEqual(e.details, { model: 'tiny', hint: 'läuft' });
  });

  test('an unexpected error is INTERNAL with an error id that is in the log, not the internals', async () => {
    const e = await rejectsWith(client.say({ text: 'boom' }), status.INTERNAL);
    assert.doesNotMatch(e.message, /kaboom/);
    const id = e.details.error_id;
    assert.ok(id && e.message.includes(id));
    const line = logLines.find((l) => l.error_id === id);
    assert.ok(line, 'error id logged');
    assert.equal(line.level, 'error');
    assert.match(String(line.stack), /kaboom/);
    assert.equal((await client.say({ text: 'still up' })).text, 'echo: still up');
  });

  test('deadline exceeded: DEADLINE_EXCEEDED for the client, aborted signal for the handler', async () => {
    await rejectsWith(client.slow({ ms: 5000 }, { deadlineMs: 1000 }), status.DEADLINE_EXCEEDED);
    const ctx = seen.get('slow')!;
    assert.ok(ctx.deadline instanceof Date);
    await waitFor(() => ctx.signal.aborted, 'handler signal to abort');
    assert.ok(ctx.signal.reason instanceof ServiceError);
    assert.equal(ctx.signal.reason.code, status.DEADLINE_EXCEEDED);
  });

  test('defaultDeadlineMs applies when a call passes none', async () => {
    const c = createClient(Echo, server.address, { defaultDeadlineMs: 80 });
    try {
      await rejectsWith(c.slow({ ms: 5000 }), status.DEADLINE_EXCEEDED);
    } finally {
      c.close();
    }
  });

  test('aborting a unary call cancels it on both sides', async () => {
    seen.delete('slow');
    const ac = new AbortController();
    const p = client.slow({ ms: 5000 }, { signal: ac.signal });
    await waitFor(() => seen.get('slow')?.signal.aborted === false, 'slow call to start');
    const ctx = seen.get('slow')!;
    ac.abort();
    await rejectsWith(p, status.CANCELLED);
    await waitFor(() => ctx.signal.aborted, 'server signal');
    assert.equal((ctx.signal.reason as ServiceError).code, status.CANCELLED);
  });

  test('client cancel of a server stream (signal) aborts ctx.signal', async () => {
    seen.delete('count');
    const ac = new AbortController();
    const got: number[] = [];
    const e = await rejectsWith(
      (async () => {
        for await (const r of client.count({ to: 1000, delayMs: 20 }, { signal: ac.signal })) {
          got.push(r.n);
          if (r.n === 3) ac.abort();
        }
      })(),
      status.CANCELLED,
    );
    assert.ok(e);
    assert.ok(got.length >= 3 && got.length < 1000);
    const ctx = seen.get('count')!;
    await waitFor(() => ctx.signal.aborted, 'server stream signal');
  });

  test('breaking out of a server stream cancels the call on the server', async () => {
    seen.delete('count');
    for await (const r of client.count({ to: 1000, delayMs: 10 })) if (r.n === 2) break;
    const ctx = seen.get('count')!;
    await waitFor(() => ctx.signal.aborted, 'server stream signal after break');
  });

  test('trailers set by the handler are sent', async () => {
    // The raw grpc-js channel exposes trailing metadata through the call's 'status' event.
    const call = client.channel.makeUnaryRequest(
      '/kit.test.Echo/Say',
      (x: Buffer) => x,
      (x: Buffer) => x,
      Buffer.from([0x0a, 0x01, 0x41]), // SayRequest{text:"A"}
      () => {},
    );
    const [st] = (await once(call, 'status')) as [{ code: number; metadata: { get(k: string): unknown[] } }];
    assert.equal(st.code, status.OK);
    assert.deepEqual(st.metadata.get('x-echo-trailer'), ['yes']);
  });

  test('a message over maxMessageBytes is RESOURCE_EXHAUSTED', async () => {
    await rejectsWith(client.say({ text: 'big:2000000' }), status.RESOURCE_EXHAUSTED);
    await rejectsWith(client.say({ text: 'y'.repeat(2_000_000) }), status.RESOURCE_EXHAUSTED);
    assert.equal((await client.say({ text: 'small' })).text, 'echo: small');
  });

  test('handler keys are checked against the service', async () => {
    await assert.rejects(
      startServer({ name: 'bad', services: [{ desc: Echo, impl: { Say: () => ({}) } }], host: '127.0.0.1', port: 0, log }),
      /handler "Say" does not match any method of kit\.test\.Echo.*say/,
    );
  });
});
