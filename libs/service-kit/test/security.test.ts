// TLS, mutual TLS, bearer tokens with scopes, the exposure rule and undecodable requests, on an
// in-process server of the test Echo service (the end-to-end version over all four roles is
// test/e2e/security.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { service as healthServiceDef } from 'grpc-health-check';
import { EvaluatorService, GeneratorService, RewardModelService, TrainerService } from '@juice/proto';
import {
  METHOD_SCOPES,
  Metadata,
  ServiceError,
  TokenTable,
  authorize,
  clientCredentials,
  createClient,
  createLogger,
  exposureRefusal,
  isLoopback,
  peerSecurity,
  readTokenFile,
  requiredScope,
  setClientDefaults,
  startServer,
  status,
  type RunningServer,
} from '../src/index.js';
import { Echo } from './fixtures/echo-proto.js';
import { echoImpl } from './fixtures/echo-impl.js';
import { makeTestPki, type TestPki } from './fixtures/certs.js';

const log = createLogger('security-test', 'silent');
const WRITE = 'w'.repeat(20) + '-write-token';
const READ = 'r'.repeat(20) + '-read-token';
const tokens = TokenTable.parse(`# test tokens\n${WRITE} write\n\n${READ}   read\n`, 'test');
const md = (token?: string) => {
  const m = new Metadata();
  if (token !== undefined) m.set('authorization', `Bearer ${token}`);
  return m;
};
const codeOf = (e: unknown) => (e as ServiceError).code;

describe('token table', () => {
  test('parses TOKEN SCOPE lines and looks tokens up by exact match', () => {
    assert.equal(tokens.size, 2);
    assert.equal(tokens.scopeOf(WRITE), 'write');
    assert.equal(tokens.scopeOf(READ), 'read');
    assert.equal(tokens.scopeOf(WRITE.slice(0, -1)), undefined, 'a prefix is not the token');
    assert.equal(tokens.scopeOf(WRITE + 'x'), undefined);
    assert.equal(tokens.scopeOf(''), undefined);
  });

  test('refuses malformed files naming the line, never echoing the token', () => {
    const secret = 's'.repeat(32);
    const cases: [string, RegExp][] = [
      [`${secret} admin`, /line 1: scope must be read or write/],
      [`# c\n${secret}`, /line 2: expected "TOKEN SCOPE"/],
      [`${secret} read extra`, /line 1: expected "TOKEN SCOPE"/],
      ['short read', /line 1: the token is 5 characters; use at least 16/],
      [`${secret} read\n${secret} write`, /line 2: the same token is listed twice/],
      ['# nothing\n\n', /no tokens/],
    ];
    for (const [text, re] of cases) {
      assert.throws(() => TokenTable.parse(text, 'tokens.txt'), (e: Error) => re.test(e.message) && !e.message.includes(secret), text);
    }
    assert.throws(() => TokenTable.fromFile('/nonexistent/tokens'), /--auth-tokens: cannot read \/nonexistent\/tokens: ENOENT/);
  });
});

describe('authorize', () => {
  const opts = { tokens };
  test('health and reflection are open; everything else needs a known bearer token', () => {
    assert.equal(authorize('/grpc.health.v1.Health/Check', md(), opts), undefined);
    assert.equal(authorize('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', md(), opts), undefined);
    assert.equal(codeOf(authorize('/juice.v1.GeneratorService/Generate', md(), opts)), status.UNAUTHENTICATED);
    assert.equal(codeOf(authorize('/juice.v1.GeneratorService/Generate', md('not-a-known-token-at-all'), opts)), status.UNAUTHENTICATED);
    const basic = new Metadata();
    basic.set('authorization', `Basic ${READ}`);
    assert.equal(codeOf(authorize('/juice.v1.GeneratorService/Generate', basic, opts)), status.UNAUTHENTICATED, 'only the Bearer scheme');
    const twice = md(READ);
    twice.add('authorization', `Bearer ${WRITE}`);
    assert.equal(codeOf(authorize('/juice.v1.TrainerService/StartJob', twice, opts)), status.UNAUTHENTICATED, 'two tokens are ambiguous');
    const lower = new Metadata();
    lower.set('authorization', `bearer ${READ}`);
    assert.equal(authorize('/juice.v1.GeneratorService/Generate', lower, opts), undefined, 'the scheme is case-insensitive');
  });

  test('read tokens answer read calls and get PERMISSION_DENIED on write calls; write tokens do both', () => {
    for (const [path, scope] of Object.entries(METHOD_SCOPES)) {
      assert.equal(authorize(`/${path}`, md(WRITE), opts), undefined, path);
      const r = authorize(`/${path}`, md(READ), opts);
      if (scope === 'read') assert.equal(r, undefined, path);
      else {
        assert.equal(codeOf(r), status.PERMISSION_DENIED, path);
        assert.match(r!.message, /needs a token with scope write; this token has scope read/);
      }
    }
  });

  test('every RPC of every juice service is classified; the issue\'s write list is write, the rest read; unknown methods need write', () => {
    const all = [GeneratorService, RewardModelService, TrainerService, EvaluatorService].flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));
    assert.deepEqual([...all].sort(), Object.keys(METHOD_SCOPES).sort());
    // RemoveAdapter (drops a LoRA adapter, a new weight version) changes state like ActivateWeights.
    const writes = new Set(['PushWeights', 'ActivateWeights', 'RemoveAdapter', 'StartJob', 'CancelJob', 'ResumeJob', 'Evaluate', 'CancelRun']);
    for (const path of all) assert.equal(requiredScope(path), writes.has(path.split('/')[1]!) ? 'write' : 'read', path);
    assert.equal(requiredScope('/juice.v1.GeneratorService/SomethingNew'), 'write');
  });
});

describe('exposure rule', () => {
  test('loopback is recognised in every spelling', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.ok(isLoopback(h), h);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '::ffff:10.0.0.1']) assert.ok(!isLoopback(h), h);
  });

  test('non-loopback needs tokens or --insecure, and the refusal says why', () => {
    assert.match(exposureRefusal({ host: '0.0.0.0', authenticated: false, insecure: false })!, /refusing to listen on 0\.0\.0\.0 without authentication.*--auth-tokens.*--insecure/);
    assert.equal(exposureRefusal({ host: '0.0.0.0', authenticated: true, insecure: false }), undefined);
    assert.equal(exposureRefusal({ host: '0.0.0.0', authenticated: false, insecure: true }), undefined);
    assert.equal(exposureRefusal({ host: '127.0.0.1', authenticated: false, insecure: false }), undefined);
  });

  test('startServer enforces it', async () => {
    await assert.rejects(startServer({ name: 'echo', services: [{ desc: Echo, impl: echoImpl() }], host: '0.0.0.0', port: 0, log }), /refusing to listen on 0\.0\.0\.0/);
    const s = await startServer({ name: 'echo', services: [{ desc: Echo, impl: echoImpl() }], host: '0.0.0.0', port: 0, log, insecure: true });
    await s.shutdown(0);
  });
});

describe('TLS, mutual TLS and tokens over real gRPC', () => {
  let pki: TestPki;
  let server: RunningServer;
  let address: string;
  const creds = (o: { cert?: string; key?: string } = {}) => clientCredentials({ ca: pki.ca, ...o });
  const mtls = () => creds({ cert: pki.clientCert, key: pki.clientKey });

  before(async () => {
    pki = makeTestPki(mkdtempSync(join(tmpdir(), 'juice-pki-')));
    server = await startServer({
      name: 'echo',
      services: [{ desc: Echo, impl: echoImpl() }],
      host: '127.0.0.1',
      port: 0,
      log,
      tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca },
      // Say is a read call here, so both scopes can be exercised on one service; the rest default to write.
      auth: { tokens, scopes: { 'kit.test.Echo/Say': 'read' } },
      healthPort: 0,
    });
    address = server.address;
  });
  after(async () => {
    setClientDefaults({});
    await server.shutdown(0);
  });

  test('with the client certificate and a token, calls of every kind work', async () => {
    const c = createClient(Echo, address, { credentials: mtls(), metadata: { authorization: `Bearer ${WRITE}` } });
    try {
      assert.equal((await c.say({ text: 'hi' })).text, 'echo: hi');
      const ns: number[] = [];
      for await (const r of c.count({ to: 3 })) ns.push(r.n);
      assert.deepEqual(ns, [1, 2, 3]);
      assert.equal((await c.collect([{ text: 'a' }, { text: 'b' }])).joined, 'ab');
    } finally {
      c.close();
    }
  });

  test('no token: UNAUTHENTICATED for unary and streaming calls; read token on a write call: PERMISSION_DENIED', async () => {
    const anon = createClient(Echo, address, { credentials: mtls() });
    const reader = createClient(Echo, address, { credentials: mtls(), metadata: { authorization: `Bearer ${READ}` } });
    try {
      await assert.rejects(anon.say({ text: 'x' }), (e: ServiceError) => e.code === status.UNAUTHENTICATED && /needs a token/.test(e.message));
      await assert.rejects(async () => {
        for await (const _ of anon.count({ to: 2 })) void _;
      }, (e: ServiceError) => e.code === status.UNAUTHENTICATED);
      await assert.rejects(anon.collect([{ text: 'a' }]), (e: ServiceError) => e.code === status.UNAUTHENTICATED);
      assert.equal((await reader.say({ text: 'r' })).text, 'echo: r');
      await assert.rejects(reader.collect([{ text: 'a' }]), (e: ServiceError) => e.code === status.PERMISSION_DENIED && /kit\.test\.Echo\/Collect/.test(e.message));
    } finally {
      anon.close();
      reader.close();
    }
  });

  test('mutual TLS: no client certificate, a stranger\'s certificate, or plaintext cannot connect', async () => {
    for (const [what, credentials] of [
      ['no client certificate', creds()],
      ['certificate from an untrusted CA', creds({ cert: pki.strangerCert, key: pki.strangerKey })],
      ['plaintext', grpc.credentials.createInsecure()],
    ] as const) {
      const c = createClient(Echo, address, { credentials, metadata: { authorization: `Bearer ${WRITE}` } });
      try {
        await assert.rejects(c.say({ text: 'x' }, { deadlineMs: 5000 }), (e: ServiceError) => e.code === status.UNAVAILABLE, what);
      } finally {
        c.close();
      }
    }
  });

  test('health answers without a token on the TLS port and, in plaintext, on the health port', async () => {
    const Health = grpc.makeGenericClientConstructor(healthServiceDef as unknown as grpc.ServiceDefinition, 'Health');
    const check = (c: grpc.Client) =>
      new Promise<string>((resolve, reject) =>
        (c as unknown as { check: (r: object, cb: (e: Error | null, r?: { status: string }) => void) => void }).check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!.status))),
      );
    const overTls = new Health(address, mtls());
    const plain = new Health(server.healthAddress!, grpc.credentials.createInsecure());
    try {
      assert.equal(await check(overTls), 'SERVING');
      assert.equal(await check(plain), 'SERVING');
      // The health port serves health only: the Echo service is not reachable through it.
      const c = createClient(Echo, server.healthAddress!, { metadata: { authorization: `Bearer ${WRITE}` } });
      await assert.rejects(c.say({ text: 'x' }), (e: ServiceError) => e.code === status.UNIMPLEMENTED);
      c.close();
    } finally {
      overTls.close();
      plain.close();
    }
  });

  test('undecodable request bytes are INVALID_ARGUMENT naming the message type, for unary and streamed requests', async () => {
    const raw = new grpc.Client(address, mtls());
    const meta = md(WRITE);
    const garbage = Buffer.from([0x0a, 0xff, 0xff]); // field 1, length-delimited, length runs past the end
    const id = (b: Buffer) => b;
    try {
      const unary = await new Promise<grpc.ServiceError>((resolve) =>
        raw.makeUnaryRequest('/kit.test.Echo/Say', id, id, garbage, meta, (err) => resolve(err!)),
      );
      assert.equal(unary.code, status.INVALID_ARGUMENT, unary.details);
      assert.match(unary.details, /request bytes are not a valid kit\.test\.SayRequest/);
      const streamed = await new Promise<grpc.ServiceError>((resolve) => {
        const call = raw.makeClientStreamRequest('/kit.test.Echo/Collect', id, id, meta, (err) => resolve(err!));
        call.write(garbage);
        call.end();
      });
      assert.equal(streamed.code, status.INVALID_ARGUMENT, streamed.details);
      const serverStream = await new Promise<grpc.StatusObject>((resolve) => {
        const call = raw.makeServerStreamRequest('/kit.test.Echo/Count', id, id, garbage, meta);
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', resolve);
      });
      assert.equal(serverStream.code, status.INVALID_ARGUMENT, serverStream.details);
      // Unauthenticated garbage is refused for the token first: nothing is decoded for a stranger.
      const anon = await new Promise<grpc.ServiceError>((resolve) => raw.makeUnaryRequest('/kit.test.Echo/Say', id, id, garbage, new Metadata(), (err) => resolve(err!)));
      assert.equal(anon.code, status.UNAUTHENTICATED);
    } finally {
      raw.close();
    }
  });

  test('peer settings (the --peer-* flags) become the default of every client in the process', async () => {
    const tokenFile = join(pki.dir, 'peer-token');
    writeFileSync(tokenFile, `# the trainer's token\n${WRITE}\n`);
    assert.equal(readTokenFile(tokenFile), WRITE);
    setClientDefaults(peerSecurity({ peerTlsCa: pki.ca, peerTlsCert: pki.clientCert, peerTlsKey: pki.clientKey, peerTokenFile: tokenFile }));
    const c = createClient(Echo, address);
    try {
      assert.equal((await c.collect([{ text: 'peer' }])).joined, 'peer', 'write call with the peer token over mTLS');
    } finally {
      c.close();
      setClientDefaults({});
    }
    assert.throws(() => peerSecurity({ peerTlsCa: pki.ca, peerTlsCert: pki.clientCert }), /--peer-tls-cert and --peer-tls-key go together/);
    assert.throws(() => peerSecurity({ peerTlsCa: join(pki.dir, 'server.csr.missing') }), /--peer-tls-ca: cannot read/);
    assert.throws(() => peerSecurity({ peerTlsCa: join(pki.dir, 'server.ext') }), /--peer-tls-ca: .* is not PEM/);
    assert.ok(readFileSync(pki.ca, 'utf8').startsWith('-----BEGIN CERTIFICATE-----'));
  });
});

describe('runService', () => {
  const fixture = fileURLToPath(new URL('./fixtures/echo-server.ts', import.meta.url));
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('JUICE_')));
  const run = async (args: string[]) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, stderr };
  };

  test('refuses to start on a non-loopback host without tokens, and on half-given TLS flags, with exit 2 and the reason', { timeout: 30_000 }, async () => {
    const [open, half, caOnly] = await Promise.all([
      run(['--host', '0.0.0.0', '--port', '0']),
      run(['--tls-cert', '/x.pem']),
      run(['--tls-client-ca', '/x.pem']),
    ]);
    assert.equal(open.code, 2);
    assert.match(open.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--tls-cert \/ JUICE_TLS_CERT and --tls-key \/ JUICE_TLS_KEY go together/);
    assert.equal(caOnly.code, 2);
    assert.match(caOnly.stderr, /--tls-client-ca \/ JUICE_TLS_CLIENT_CA needs --tls-cert/);
  });
});
