// Promise/AsyncIterable clients over grpc-js, from the same protobuf-es descriptors the servers use.
// Each call gets a client span whose context is injected as `traceparent`, so the server's span is its
// child; errors come back as ServiceError with the server's code, message and details.
import * as grpc from '@grpc/grpc-js';
import { create, type DescMessage, type DescMethod, type DescService, type Message, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { ServiceError, fromGrpcError } from './errors.js';
import { methodDefinition } from './handlers.js';
import { clientDefaults } from './peer.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './server.js';
import { iterateReadable, toAsync, writeWithBackpressure } from './streams.js';
import { createRpcMetrics, injectContext, tracer, type RpcMetrics } from './telemetry.js';

export interface ClientOptions {
  /** Default 64 MiB, matching the servers. */
  maxMessageBytes?: number;
  /** Applied to calls that pass no deadlineMs. Unset = no deadline. */
  defaultDeadlineMs?: number;
  /** Sent with every call (e.g. authorization); merged over the process's peer metadata. */
  metadata?: Record<string, string>;
  /** Default: the process's peer credentials (setClientDefaults / --peer-tls-*), else insecure (loopback). */
  credentials?: grpc.ChannelCredentials;
  /** round_robin (default) spreads calls over every address a name resolves to (headless Services). */
  loadBalancing?: 'round_robin' | 'pick_first';
  channelOptions?: grpc.ChannelOptions;
}

export interface CallOptions {
  deadlineMs?: number;
  /** Aborting cancels the call; the caller sees ServiceError CANCELLED. */
  signal?: AbortSignal;
  metadata?: Record<string, string> | grpc.Metadata;
}

export type UnaryFn<I extends DescMessage, O extends DescMessage> = (req: MessageInitShape<I>, opts?: CallOptions) => Promise<MessageShape<O>>;
export type ServerStreamFn<I extends DescMessage, O extends DescMessage> = (req: MessageInitShape<I>, opts?: CallOptions) => AsyncIterable<MessageShape<O>>;
export type ClientStreamFn<I extends DescMessage, O extends DescMessage> = (
  reqs: AsyncIterable<MessageInitShape<I>> | Iterable<MessageInitShape<I>>,
  opts?: CallOptions,
) => Promise<MessageShape<O>>;
export type BidiFn<I extends DescMessage, O extends DescMessage> = (
  reqs: AsyncIterable<MessageInitShape<I>> | Iterable<MessageInitShape<I>>,
  opts?: CallOptions,
) => AsyncIterable<MessageShape<O>>;

export type ClientMethodFor<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryFn<I, O>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamFn<I, O>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreamFn<I, O>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BidiFn<I, O>
        : // Untyped descriptors (built at runtime): the caller knows the kind.
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          (req: any, opts?: CallOptions) => any;

/** Methods keyed by localName, like the service's ServiceImpl. */
export type Client<S extends DescService> = { [K in keyof S['method']]: ClientMethodFor<S['method'][K]> };

export interface ClientControls {
  close(): void;
  /** Resolves once connected; rejects after timeoutMs. */
  waitForReady(timeoutMs: number): Promise<void>;
  readonly channel: grpc.Client;
}

export function createClient<S extends DescService>(desc: S, address: string, opts: ClientOptions = {}): Client<S> & ClientControls {
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // Without explicit credentials/metadata, the process's peer settings apply (see peer.ts).
  // Explicit credentials opt out of both, so the peer token never rides a channel the caller chose.
  const peer = opts.credentials === undefined ? clientDefaults() : {};
  opts = { ...opts, metadata: { ...peer.metadata, ...opts.metadata } };
  const channel = new grpc.Client(address, opts.credentials ?? peer.credentials ?? grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': maxBytes,
    'grpc.max_send_message_length': maxBytes,
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ [opts.loadBalancing ?? 'round_robin']: {} }] }),
    ...opts.channelOptions,
  });
  const metrics = createRpcMetrics();
  const out: Record<string, unknown> = {};
  for (const method of desc.methods) out[method.localName] = makeMethod(channel, method, opts, metrics);
  const controls: ClientControls = {
    close: () => channel.close(),
    waitForReady: (timeoutMs) =>
      new Promise<void>((resolve, reject) =>
        channel.waitForReady(Date.now() + timeoutMs, (err) =>
          err ? reject(new ServiceError(grpc.status.UNAVAILABLE, `${desc.typeName} at ${address} not ready after ${timeoutMs} ms: ${err.message}`)) : resolve(),
        ),
      ),
    channel,
  };
  return Object.assign(out, controls) as Client<S> & ClientControls;
}

interface Prepared {
  metadata: grpc.Metadata;
  options: grpc.CallOptions;
  finish(status: { code: number; details?: string }): void;
}

function prepare(method: DescMethod, opts: ClientOptions, callOpts: CallOptions, metrics: RpcMetrics): Prepared {
  const service = method.parent.typeName;
  const span: Span = tracer().startSpan(
    `${service}/${method.name}`,
    { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method.name } },
    context.active(),
  );
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata.set(k, v);
  if (callOpts.metadata instanceof grpc.Metadata) metadata.merge(callOpts.metadata);
  else for (const [k, v] of Object.entries(callOpts.metadata ?? {})) metadata.set(k, v);
  injectContext(trace.setSpan(context.active(), span), metadata);
  const deadlineMs = callOpts.deadlineMs ?? opts.defaultDeadlineMs;
  const options: grpc.CallOptions = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
  const started = performance.now();
  let done = false;
  return {
    metadata,
    options,
    finish(status) {
      if (done) return;
      done = true;
      span.setAttribute('rpc.grpc.status_code', status.code);
      if (status.code !== grpc.status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
      span.end();
      metrics.record('client', service, method.name, status.code, performance.now() - started);
    },
  };
}

function cancelledBeforeStart(signal: AbortSignal): ServiceError {
  return new ServiceError(grpc.status.CANCELLED, 'call cancelled before it started', {}, { cause: signal.reason });
}

function makeMethod(channel: grpc.Client, method: DescMethod, opts: ClientOptions, metrics: RpcMetrics): unknown {
  const def = methodDefinition(method);
  const { path } = def;
  const ser = def.requestSerialize;
  const de = def.responseDeserialize;

  switch (method.methodKind) {
    case 'unary':
      return (req: MessageInitShape<DescMessage>, callOpts: CallOptions = {}) =>
        new Promise<Message>((resolve, reject) => {
          if (callOpts.signal?.aborted) return reject(cancelledBeforeStart(callOpts.signal));
          const msg = create(method.input, req);
          const p = prepare(method, opts, callOpts, metrics);
          const onAbort = () => call.cancel();
          const call = channel.makeUnaryRequest(path, ser, de, msg, p.metadata, p.options, (err, value) => {
            callOpts.signal?.removeEventListener('abort', onAbort);
            if (err) {
              const se = fromGrpcError(err);
              p.finish({ code: se.code, details: se.message });
              reject(se);
            } else {
              p.finish({ code: grpc.status.OK });
              resolve(value as Message);
            }
          });
          callOpts.signal?.addEventListener('abort', onAbort, { once: true });
        });

    case 'server_streaming':
      return (req: MessageInitShape<DescMessage>, callOpts: CallOptions = {}): AsyncIterable<Message> => {
        if (callOpts.signal?.aborted) return failingIterable(cancelledBeforeStart(callOpts.signal));
        const msg = create(method.input, req);
        const p = prepare(method, opts, callOpts, metrics);
        const call = channel.makeServerStreamRequest(path, ser, de, msg, p.metadata, p.options);
        return responses(call, p, callOpts.signal);
      };

    case 'client_streaming':
      return (reqs: AsyncIterable<MessageInitShape<DescMessage>> | Iterable<MessageInitShape<DescMessage>>, callOpts: CallOptions = {}) =>
        new Promise<Message>((resolve, reject) => {
          if (callOpts.signal?.aborted) return reject(cancelledBeforeStart(callOpts.signal));
          const p = prepare(method, opts, callOpts, metrics);
          const settled = new AbortController();
          let pumpError: unknown;
          const onAbort = () => call.cancel();
          const call = channel.makeClientStreamRequest(path, ser, de, p.metadata, p.options, (err, value) => {
            settled.abort();
            callOpts.signal?.removeEventListener('abort', onAbort);
            if (pumpError !== undefined) {
              p.finish({ code: grpc.status.CANCELLED, details: String(pumpError) });
              reject(pumpError);
            } else if (err) {
              const se = fromGrpcError(err);
              p.finish({ code: se.code, details: se.message });
              reject(se);
            } else {
              p.finish({ code: grpc.status.OK });
              resolve(value as Message);
            }
          });
          callOpts.signal?.addEventListener('abort', onAbort, { once: true });
          pump(reqs, method, call, settled.signal).catch((e: unknown) => {
            pumpError = e;
            call.cancel();
          });
        });

    case 'bidi_streaming':
      return (reqs: AsyncIterable<MessageInitShape<DescMessage>> | Iterable<MessageInitShape<DescMessage>>, callOpts: CallOptions = {}): AsyncIterable<Message> => {
        if (callOpts.signal?.aborted) return failingIterable(cancelledBeforeStart(callOpts.signal));
        const p = prepare(method, opts, callOpts, metrics);
        const call = channel.makeBidiStreamRequest(path, ser, de, p.metadata, p.options);
        const settled = new AbortController();
        call.on('status', () => settled.abort());
        let pumpError: unknown;
        pump(reqs, method, call, settled.signal).catch((e: unknown) => {
          pumpError = e;
          call.cancel();
        });
        return responses(call, p, callOpts.signal, () => pumpError);
      };
  }
}

// Sends requests with backpressure, then half-closes. Stops when the call has already ended.
async function pump(
  reqs: AsyncIterable<MessageInitShape<DescMessage>> | Iterable<MessageInitShape<DescMessage>>,
  method: DescMethod,
  call: grpc.ClientWritableStream<Message> | grpc.ClientDuplexStream<Message, Message>,
  settled: AbortSignal,
): Promise<void> {
  for await (const r of toAsync(reqs)) {
    if (settled.aborted) return;
    try {
      await writeWithBackpressure(call, create(method.input, r), settled);
    } catch (e) {
      if (settled.aborted) return;
      throw e;
    }
  }
  if (!settled.aborted) call.end();
}

function responses(
  call: grpc.ClientReadableStream<Message> | grpc.ClientDuplexStream<Message, Message>,
  p: Prepared,
  signal: AbortSignal | undefined,
  pumpError: () => unknown = () => undefined,
): AsyncIterable<Message> {
  const onAbort = () => call.cancel();
  signal?.addEventListener('abort', onAbort, { once: true });
  call.on('status', (status: grpc.StatusObject) => {
    signal?.removeEventListener('abort', onAbort);
    p.finish(status);
  });
  return iterateReadable<Message>(call, {
    mapError: (err) => pumpError() ?? fromGrpcError(err),
    // The consumer stopped reading (break): tell the server, so its ctx.signal aborts.
    onReturn: () => call.cancel(),
  });
}

function failingIterable(err: unknown): AsyncIterable<never> {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(err) }),
  };
}
