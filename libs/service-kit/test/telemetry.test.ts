// Runs in its own process (node --test isolates files), so registering the global SDK here is safe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, trace } from '@opentelemetry/api';
// Both come with @opentelemetry/sdk-node (a dependency of the kit).
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { createClient, createLogger, meter, startServer, startTelemetry, status, type RunningServer } from '../src/index.js';
import { Echo } from './fixtures/echo-proto.js';
import { echoImpl } from './fixtures/echo-impl.js';

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const exporter = new InMemorySpanExporter();
const reader = new TestReader();
const telemetry = startTelemetry('echo', { spanProcessors: [new SimpleSpanProcessor({ exporter })], metricReaders: [reader], env: {} });
const log = createLogger('echo-test', 'silent');

let server: RunningServer;
let client: ReturnType<typeof createClient<typeof Echo>>;
before(async () => {
  const base = echoImpl();
  server = await startServer({
    name: 'echo',
    services: [
      {
        desc: Echo,
        impl: {
          ...base,
          // A handler that calls another service: that hop must stay in the same trace.
          async slow(req: { text: string }) {
            return { text: `relayed ${(await client.say({ text: req.text })).text}` };
          },
        },
      },
    ],
    host: '127.0.0.1',
    port: 0,
    log,
  });
  client = createClient(Echo, server.address);
});
after(async () => {
  client.close();
  await server.shutdown(0);
  await telemetry.shutdown();
});

/** Span export is asynchronous (and a server span ends after its response is sent): wait for them. */
async function spansWhen(ready: (spans: ReturnType<InMemorySpanExporter['getFinishedSpans']>) => boolean) {
  const end = Date.now() + 5000;
  for (;;) {
    const spans = exporter.getFinishedSpans();
    if (ready(spans) || Date.now() > end) return spans;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('client call -> server span is a child of the client span, across a second hop', async () => {
  exporter.reset();
  const res = await trace.getTracer('test').startActiveSpan('training-round', async (round) => {
    try {
      return await client.slow({ text: 'x' });
    } finally {
      round.end();
    }
  });
  assert.equal(res.text, 'relayed echo: x');
  const spans = await spansWhen((all) => all.length >= 5);
  const by = (name: string, kind: SpanKind) => {
    const found = spans.filter((s) => s.name === name && s.kind === kind);
    assert.equal(found.length, 1, `one ${SpanKind[kind]} span ${name}; have ${spans.map((s) => `${s.name}/${SpanKind[s.kind]}`).join(', ')}`);
    return found[0]!;
  };
  const round = by('training-round', SpanKind.INTERNAL);
  const slowClient = by('kit.test.Echo/Slow', SpanKind.CLIENT);
  const slowServer = by('kit.test.Echo/Slow', SpanKind.SERVER);
  const sayClient = by('kit.test.Echo/Say', SpanKind.CLIENT);
  const sayServer = by('kit.test.Echo/Say', SpanKind.SERVER);
  const traceId = round.spanContext().traceId;
  for (const s of [slowClient, slowServer, sayClient, sayServer]) assert.equal(s.spanContext().traceId, traceId, `${s.name} in the round's trace`);
  assert.equal(slowClient.parentSpanContext?.spanId, round.spanContext().spanId);
  assert.equal(slowServer.parentSpanContext?.spanId, slowClient.spanContext().spanId);
  assert.equal(sayClient.parentSpanContext?.spanId, slowServer.spanContext().spanId);
  assert.equal(sayServer.parentSpanContext?.spanId, sayClient.spanContext().spanId);
  assert.equal(slowServer.attributes['rpc.system'], 'grpc');
  assert.equal(slowServer.attributes['rpc.service'], 'kit.test.Echo');
  assert.equal(slowServer.attributes['rpc.method'], 'Slow');
  assert.equal(slowServer.attributes['rpc.grpc.status_code'], status.OK);
});

test('failed calls record their status code; rpc metrics and the exported meter work', async () => {
  await spansWhen((all) => all.length >= 5); // the previous test's spans are all in
  exporter.reset();
  await assert.rejects(client.say({ text: 'bad' }));
  const server = (await spansWhen((all) => all.some((s) => s.kind === SpanKind.SERVER))).find((s) => s.kind === SpanKind.SERVER)!;
  assert.equal(server.attributes['rpc.grpc.status_code'], status.INVALID_ARGUMENT);

  const queueDepth = meter.createUpDownCounter('juice.test.queue_depth');
  queueDepth.add(3);
  const { resourceMetrics } = await reader.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const calls = all.find((m) => m.descriptor.name === 'rpc.server.calls');
  assert.ok(calls, `metrics: ${all.map((m) => m.descriptor.name).join(', ')}`);
  const bad = calls.dataPoints.find((p) => p.attributes['rpc.method'] === 'Say' && p.attributes['rpc.grpc.status_code'] === status.INVALID_ARGUMENT);
  assert.equal(bad?.value, 1);
  assert.ok(all.find((m) => m.descriptor.name === 'rpc.server.duration'));
  assert.ok(all.find((m) => m.descriptor.name === 'juice.test.queue_depth'));
});
