import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { service as healthServiceDef } from 'grpc-health-check';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ServiceError, createClient, createLogger, startServer, status, type RunningServer } from '../src/index.js';
import { Echo } from './fixtures/echo-proto.js';
import { echoImpl, type Seen } from './fixtures/echo-impl.js';

const log = createLogger('echo-test', 'silent');

function start(seen: Seen = new Map()): Promise<RunningServer> {
  return startServer({ name: 'echo', services: [{ desc: Echo, impl: echoImpl(seen) }], host: '127.0.0.1', port: 0, log });
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};
function healthClient(address: string): HealthClient {
  const Ctor = grpc.makeGenericClientConstructor(healthServiceDef as unknown as grpc.ServiceDefinition, 'Health');
  return new Ctor(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
}
const check = (c: HealthClient, service: string) =>
  new Promise<string>((resolve, reject) => c.check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))));

describe('health', () => {
  test('SERVING for "" and each service, setStatus, NOT_SERVING once shutdown starts', async () => {
    const server = await start();
    const h = healthClient(server.address);
    const echo = createClient(Echo, server.address);
    try {
      assert.equal(await check(h, ''), 'SERVING');
      assert.equal(await check(h, 'kit.test.Echo'), 'SERVING');
      await assert.rejects(check(h, 'nope.Service'), (e: grpc.ServiceError) => e.code === status.NOT_FOUND);
      server.health.setStatus('kit.test.Echo', 'NOT_SERVING');
      assert.equal(await check(h, 'kit.test.Echo'), 'NOT_SERVING');
      server.health.setStatus('kit.test.Echo', 'SERVING');

      // Watch is the only way to observe the change: new calls are refused once shutdown begins.
      const watch = h.watch({ service: '' });
      const statuses: string[] = [];
      const ended = new Promise<void>((resolve) => {
        watch.on('data', (m: { status: string }) => statuses.push(m.status));
        watch.on('end', resolve);
        watch.on('error', () => resolve());
      });
      while (statuses.length === 0) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(statuses, ['SERVING']);

      const slow = echo.slow({ ms: 300, text: 'finished' });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const stopped = server.shutdown(5000);
      await ended;
      assert.deepEqual(statuses, ['SERVING', 'NOT_SERVING']);
      assert.equal((await slow).text, 'finished', 'in-flight call completes during graceful shutdown');
      await stopped;
      assert.ok(Date.now() - t0 < 2000, 'an open Watch does not hold the shutdown');
      await assert.rejects(echo.say({ text: 'late' }, { deadlineMs: 1000 }), (e: ServiceError) => e.code === status.UNAVAILABLE);
    } finally {
      h.close();
      echo.close();
      await server.shutdown(0);
    }
  });

  test('after the grace period in-flight calls are cancelled with UNAVAILABLE on ctx.signal', async () => {
    const seen: Seen = new Map();
    const server = await start(seen);
    const echo = createClient(Echo, server.address);
    try {
      const slow = echo.slow({ ms: 20_000 });
      slow.catch(() => {});
      while (!seen.get('slow')) await new Promise((r) => setTimeout(r, 10));
      const t0 = Date.now();
      await server.shutdown(200);
      assert.ok(Date.now() - t0 < 1500);
      const ctx = seen.get('slow')!;
      assert.ok(ctx.signal.aborted);
      assert.equal((ctx.signal.reason as ServiceError).code, status.UNAVAILABLE);
      await assert.rejects(slow, ServiceError);
    } finally {
      echo.close();
    }
  });
});

describe('reflection', () => {
  const require = createRequire(import.meta.url);
  const protoDir = join(dirname(require.resolve('@grpc/reflection')), '../proto');

  for (const version of ['v1', 'v1alpha'] as const) {
    test(`${version}: list_services and file_containing_symbol`, async () => {
      const server = await start();
      const def = protoLoader.loadSync(join(protoDir, `grpc/reflection/${version}/reflection.proto`), {
        keepCase: false,
        longs: String,
        enums: String,
        defaults: true,
        oneofs: true,
      });
      const pkg = grpc.loadPackageDefinition(def) as unknown as {
        grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
      };
      const client = new pkg.grpc.reflection[version]!.ServerReflection(server.address, grpc.credentials.createInsecure());
      try {
        const stream = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, Record<string, any>> }).serverReflectionInfo();
        const responses: Record<string, any>[] = [];
        stream.on('data', (r) => responses.push(r));
        const done = new Promise<void>((resolve, reject) => {
          stream.on('end', resolve);
          stream.on('error', reject);
        });
        stream.write({ listServices: '*' });
        stream.write({ fileContainingSymbol: 'kit.test.Echo' });
        stream.write({ fileContainingSymbol: 'kit.test.Meta' });
        stream.write({ fileContainingSymbol: 'kit.test.Nope' });
        stream.end();
        await done;
        assert.equal(responses.length, 4);

        const names = responses[0]!.listServicesResponse.service.map((s: { name: string }) => s.name);
        assert.ok(names.includes('kit.test.Echo'), `list_services: ${names.join(', ')}`);

        const files = (responses[1]!.fileDescriptorResponse.fileDescriptorProto as Buffer[]).map((b) =>
          fromBinary(FileDescriptorProtoSchema, b),
        );
        assert.equal(files[0]!.name, 'kit/test/echo.proto');
        assert.deepEqual(files.map((f) => f.name).sort(), ['google/protobuf/timestamp.proto', 'kit/test/common.proto', 'kit/test/echo.proto']);
        const echo = files[0]!;
        assert.deepEqual(echo.service[0]!.method.map((m) => m.name), ['Say', 'Count', 'Collect', 'Slow', 'Chat', 'Missing']);

        const meta = (responses[2]!.fileDescriptorResponse.fileDescriptorProto as Buffer[]).map((b) => fromBinary(FileDescriptorProtoSchema, b));
        assert.equal(meta[0]!.name, 'kit/test/common.proto');
        assert.equal(responses[3]!.errorResponse.errorCode, status.NOT_FOUND);
      } finally {
        client.close();
        await server.shutdown(0);
      }
    });
  }
});
