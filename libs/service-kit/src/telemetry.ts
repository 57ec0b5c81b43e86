// OpenTelemetry setup and the RPC instrumentation the kit does itself.
//
// grpc-js is loaded as an ES module before any SDK could patch it, so @opentelemetry/instrumentation-grpc
// cannot hook it. Instead server.ts and client.ts create the spans and metrics below explicitly, and
// carry W3C trace context in call metadata, so one training round is one trace across all services.
import {
  context,
  metrics,
  propagation,
  trace,
  type Context,
  type Meter,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
} from '@opentelemetry/api';
import type * as grpc from '@grpc/grpc-js';
import { NodeSDK } from '@opentelemetry/sdk-node';

type NodeSdkConfig = NonNullable<ConstructorParameters<typeof NodeSDK>[0]>;

export interface TelemetryOptions {
  /** Replaces the env-configured span processors (tests pass an in-memory exporter here). */
  spanProcessors?: NodeSdkConfig['spanProcessors'];
  /** Replaces the env-configured metric readers. */
  metricReaders?: NodeSdkConfig['metricReaders'];
  env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  readonly tracing: boolean;
  readonly metrics: boolean;
  /** Flushes pending spans/metrics; safe to call twice. */
  shutdown(): Promise<void>;
}

const INSTRUMENTATION_SCOPE = 'juice.service-kit';

type SpanProcessor = NonNullable<NodeSdkConfig['spanProcessors']>[number];
const dropSpans: SpanProcessor = {
  onStart: () => {},
  onEnd: () => {},
  forceFlush: async () => {},
  shutdown: async () => {},
};

/**
 * Starts the NodeSDK. Exporters are off unless the standard OTEL_* variables ask for them: NodeSDK's own
 * default is OTLP, which on a laptop means every process retries a collector that is not there.
 * Context propagation (AsyncLocalStorage + W3C traceparent/baggage) is always installed, so trace ids flow
 * across services even when this process exports nothing.
 */
export function startTelemetry(serviceName: string, opts: TelemetryOptions = {}): Telemetry {
  const env = opts.env ?? process.env;
  const has = (...names: string[]) => names.some((n) => (env[n] ?? '').trim() !== '');
  const tracesFromEnv = has('OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const metricsFromEnv = has('OTEL_METRICS_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const logsFromEnv = has('OTEL_LOGS_EXPORTER', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT');

  const config: Partial<NodeSdkConfig> = {
    serviceName: env.OTEL_SERVICE_NAME || serviceName,
    // undefined = let NodeSDK read OTEL_* env; [] = explicitly nothing.
    // With no exporter we still install a TracerProvider (whose processor drops every span) so that each
    // call gets a real trace id: it is logged as trace_id and propagated, which lets one grep a training
    // round across all services' logs without running a collector.
    spanProcessors: opts.spanProcessors ?? (tracesFromEnv ? undefined : [dropSpans]),
    metricReaders: opts.metricReaders ?? (metricsFromEnv ? undefined : []),
    logRecordProcessors: logsFromEnv ? undefined : [],
  };
  const sdk = new NodeSDK(config);
  sdk.start();
  let done: Promise<void> | undefined;
  return {
    /** True when spans are exported somewhere (not merely recorded for their ids). */
    tracing: (opts.spanProcessors?.length ?? 0) > 0 || (opts.spanProcessors === undefined && tracesFromEnv),
    metrics: (opts.metricReaders?.length ?? 0) > 0 || (opts.metricReaders === undefined && metricsFromEnv),
    shutdown: () => (done ??= sdk.shutdown().catch(() => undefined)),
  };
}

export function tracer(): Tracer {
  return trace.getTracer(INSTRUMENTATION_SCOPE);
}

/**
 * The meter services use for their own instruments (queue depth, tokens/s). It resolves the global
 * MeterProvider when an instrument is created, because metrics.getMeter() before the SDK starts returns a
 * no-op forever; create instruments in runService's build(), after telemetry started.
 */
export const meter: Meter = new Proxy({} as Meter, {
  get(_target, prop) {
    const real = metrics.getMeter('juice') as unknown as Record<PropertyKey, unknown>;
    const value = real[prop];
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
  },
});

export interface RpcMetrics {
  record(side: 'server' | 'client', service: string, method: string, code: number, durationMs: number): void;
}

/** RPC duration histograms and call counters by method and status code (semconv rpc.* attributes). */
export function createRpcMetrics(): RpcMetrics {
  const m = metrics.getMeter(INSTRUMENTATION_SCOPE);
  const serverDuration = m.createHistogram('rpc.server.duration', { unit: 'ms', description: 'Duration of inbound RPCs' });
  const serverCalls = m.createCounter('rpc.server.calls', { description: 'Inbound RPCs by method and status code' });
  const clientDuration = m.createHistogram('rpc.client.duration', { unit: 'ms', description: 'Duration of outbound RPCs' });
  const clientCalls = m.createCounter('rpc.client.calls', { description: 'Outbound RPCs by method and status code' });
  return {
    record(side, service, method, code, durationMs) {
      const attrs = { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method, 'rpc.grpc.status_code': code };
      (side === 'server' ? serverDuration : clientDuration).record(durationMs, attrs);
      (side === 'server' ? serverCalls : clientCalls).add(1, attrs);
    },
  };
}

const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

const metadataSetter: TextMapSetter<grpc.Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

export function extractContext(metadata: grpc.Metadata, base: Context = context.active()): Context {
  return propagation.extract(base, metadata, metadataGetter);
}

export function injectContext(ctx: Context, metadata: grpc.Metadata): void {
  propagation.inject(ctx, metadata, metadataSetter);
}
