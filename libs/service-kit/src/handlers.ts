// Turns a protobuf-es service descriptor plus connect-es-style handlers into what grpc-js serves.
// Every call gets: a server span (child of the caller's traceparent), a Ctx whose signal aborts on
// cancel/deadline/force-stop, errors mapped to gRPC statuses, and duration/count metrics.
import * as grpc from '@grpc/grpc-js';
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from '@bufbuild/protobuf';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, isSpanContextValid, trace, type Span } from '@opentelemetry/api';
import { encodeWeightChunk, WeightChunkSchema, type WeightChunk } from '@juice/proto';
import { ServiceError, cancelled, deadlineExceeded, rejectInvalid, toGrpcStatus, toServiceError, unimplemented } from './errors.js';

/** How close to the deadline a client cancel counts as the deadline passing. */
const DEADLINE_SLACK_MS = 250;
import { defaultLogger, type Logger } from './logger.js';
import { checkWireValues } from './wire-values.js';
import { iterateReadable, writeWithBackpressure } from './streams.js';
import { createRpcMetrics, extractContext, tracer, type RpcMetrics } from './telemetry.js';

/** What a handler knows about its call besides the request. */
export interface Ctx {
  /** Aborted when the client cancels, the deadline passes, or the server is force-stopped. reason is a ServiceError. */
  readonly signal: AbortSignal;
  readonly deadline?: Date;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
  /** `package.Service/Method` */
  readonly method: string;
  readonly span: Span;
  /** The server's logger with method and trace_id bound. */
  readonly log: Logger;
  setTrailer(key: string, value: string): void;
}

export type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  req: MessageShape<I>,
  ctx: Ctx,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;
export type ServerStreamHandler<I extends DescMessage, O extends DescMessage> = (
  req: MessageShape<I>,
  ctx: Ctx,
) => AsyncIterable<MessageInitShape<O>>;
export type ClientStreamHandler<I extends DescMessage, O extends DescMessage> = (
  reqs: AsyncIterable<MessageShape<I>>,
  ctx: Ctx,
) => Promise<MessageInitShape<O>>;
export type BidiHandler<I extends DescMessage, O extends DescMessage> = (
  reqs: AsyncIterable<MessageShape<I>>,
  ctx: Ctx,
) => AsyncIterable<MessageInitShape<O>>;

type AnyHandler =
  | UnaryHandler<DescMessage, DescMessage>
  | ServerStreamHandler<DescMessage, DescMessage>
  | ClientStreamHandler<DescMessage, DescMessage>
  | BidiHandler<DescMessage, DescMessage>;

/** The handler type for one method descriptor (typed for generated GenService methods). */
export type HandlerFor<M> = M extends { methodKind: 'unary'; input: infer I extends DescMessage; output: infer O extends DescMessage }
  ? UnaryHandler<I, O>
  : M extends { methodKind: 'server_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? ServerStreamHandler<I, O>
    : M extends { methodKind: 'client_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
      ? ClientStreamHandler<I, O>
      : M extends { methodKind: 'bidi_streaming'; input: infer I extends DescMessage; output: infer O extends DescMessage }
        ? BidiHandler<I, O>
        : AnyHandler;

/** Handlers keyed by the method's localName (`generate`, `pushWeights`), as in connect-es. */
export type ServiceImpl<S extends DescService> = { [K in keyof S['method']]: HandlerFor<S['method'][K]> };

/** Tracks in-flight calls so a forced shutdown can abort their signals. */
export class CallRegistry {
  private readonly active = new Set<AbortController>();
  add(ac: AbortController): void {
    this.active.add(ac);
  }
  delete(ac: AbortController): void {
    this.active.delete(ac);
  }
  get size(): number {
    return this.active.size;
  }
  abortAll(reason: ServiceError): void {
    for (const ac of this.active) ac.abort(reason);
  }
}

export interface DefinitionOptions {
  log?: Logger;
  calls?: CallRegistry;
  metrics?: RpcMetrics;
}

export interface BuiltService {
  definition: grpc.ServiceDefinition;
  handlers: grpc.UntypedServiceImplementation;
}

/** grpc-js method definition (path + binary protobuf-es serialization) for one RPC. */
export function methodDefinition(method: DescMethod): grpc.MethodDefinition<Message, Message> {
  const ser = (schema: DescMessage) => (m: Message) => {
    // Weight chunks (MiBs of tensor bytes each) have an exact-size encoder: the same bytes, no regrowth copies.
    const bytes = schema.typeName === WeightChunkSchema.typeName ? encodeWeightChunk(m as WeightChunk) : toBinary(schema, m);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  const de = (schema: DescMessage) => (b: Buffer) => fromBinary(schema, b);
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
    responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
    requestSerialize: ser(method.input),
    requestDeserialize: de(method.input),
    responseSerialize: ser(method.output),
    responseDeserialize: de(method.output),
    originalName: method.localName,
  };
}

export function grpcDefinition(desc: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of desc.methods) definition[method.name] = methodDefinition(method);
  return definition;
}

/** What the server's request decoder yields for bytes that are not the method's input message. */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

// grpc-js answers a throwing request deserializer with INTERNAL "Error deserializing request", but bad
// bytes are the caller's fault: the decoder hands over a marker instead, and the call wrapper answers
// INVALID_ARGUMENT naming the expected message type (after auth, which runs before any decoding).
function serverDefinition(desc: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of desc.methods) {
    const base = methodDefinition(method);
    definition[method.name] = {
      ...base,
      requestDeserialize: (b: Buffer) => {
        try {
          return base.requestDeserialize(b);
        } catch (e) {
          return new UndecodableRequest(e instanceof Error ? e.message : String(e)) as unknown as Message;
        }
      },
    };
  }
  return definition;
}

function decoded(method: DescMethod, req: unknown): Message {
  if (req instanceof UndecodableRequest) {
    throw new ServiceError(grpc.status.INVALID_ARGUMENT, `request bytes are not a valid ${method.input.typeName}: ${req.reason.slice(0, 200)}`);
  }
  // Unknown enum numbers and non-finite floats anywhere in the request: INVALID_ARGUMENT naming the field.
  rejectInvalid(checkWireValues(method.input, req));
  return req as Message;
}

async function* decodedStream(method: DescMethod, reqs: AsyncIterable<unknown>): AsyncIterable<Message> {
  for await (const r of reqs) yield decoded(method, r);
}

export function serviceDefinition<S extends DescService>(
  desc: S,
  impl: Partial<ServiceImpl<S>> | object,
  opts: DefinitionOptions = {},
): BuiltService {
  const o: Required<DefinitionOptions> = {
    log: opts.log ?? defaultLogger,
    calls: opts.calls ?? new CallRegistry(),
    metrics: opts.metrics ?? createRpcMetrics(),
  };
  checkImplKeys(desc, impl);
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const method of desc.methods) {
    const fn = (impl as Record<string, unknown>)[method.localName];
    const handler: AnyHandler =
      typeof fn === 'function'
        ? (fn.bind(impl) as AnyHandler)
        : () => {
            throw unimplemented(`method ${desc.typeName}/${method.name} is not implemented by this server`);
          };
    handlers[method.name] = wrap(method, handler, o);
  }
  return { definition: serverDefinition(desc), handlers };
}

// A handler under the wrong key (`Say` instead of `say`) would otherwise silently answer UNIMPLEMENTED.
function checkImplKeys(desc: DescService, impl: object): void {
  const known = new Set(desc.methods.map((m) => m.localName));
  for (const key of Object.keys(impl)) {
    if (typeof (impl as Record<string, unknown>)[key] !== 'function' || known.has(key)) continue;
    throw new Error(
      `handler "${key}" does not match any method of ${desc.typeName}; handlers are keyed by localName: ${[...known].join(', ')}`,
    );
  }
}

type SurfaceCall = grpc.ServerUnaryCall<Message, Message> | grpc.ServerReadableStream<Message, Message> | grpc.ServerWritableStream<Message, Message> | grpc.ServerDuplexStream<Message, Message>;

interface CallScope {
  ctx: Ctx;
  otelContext: ReturnType<typeof trace.setSpan>;
  trailers: grpc.Metadata;
  finish(err?: ServiceError): void;
}

// Span status per OpenTelemetry's gRPC conventions: on the server, client faults are not server errors.
const SERVER_ERROR_CODES = new Set<number>([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);
const MAX_TIMER_MS = 2 ** 31 - 1;

function beginCall(call: SurfaceCall, method: DescMethod, o: Required<DefinitionOptions>): CallScope {
  const service = method.parent.typeName;
  const methodPath = `${service}/${method.name}`;
  const parent = extractContext(call.metadata, ROOT_CONTEXT);
  const span = tracer().startSpan(
    methodPath,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method.name } },
    parent,
  );
  const otelContext = trace.setSpan(parent, span);
  const ac = new AbortController();
  let done = false;

  const raw = call.getDeadline();
  const deadlineMs = raw instanceof Date ? raw.getTime() : raw;
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
  let timer: NodeJS.Timeout | undefined;
  const onDeadline = () => ac.abort(deadlineExceeded(`deadline exceeded for ${methodPath}`));
  if (deadline) {
    const delay = deadline.getTime() - Date.now();
    if (delay <= 0) onDeadline();
    else if (delay <= MAX_TIMER_MS) timer = setTimeout(onDeadline, delay);
  }
  (call as grpc.ServerUnaryCall<Message, Message>).on('cancelled', () => {
    if (done || ac.signal.aborted) return;
    // The client's own deadline timer usually fires a little before ours (the deadline travels as a
    // relative timeout and is re-anchored on arrival), so a cancel close to the deadline is the deadline.
    if (deadline && Date.now() >= deadline.getTime() - DEADLINE_SLACK_MS) onDeadline();
    else ac.abort(cancelled(`client cancelled ${methodPath}`));
  });
  o.calls.add(ac);

  const traceId = span.spanContext();
  const log = o.log.child(isSpanContextValid(traceId) ? { method: methodPath, trace_id: traceId.traceId } : { method: methodPath });
  const trailers = new grpc.Metadata();
  const started = performance.now();
  const ctx: Ctx = {
    signal: ac.signal,
    deadline,
    metadata: call.metadata,
    peer: call.getPeer(),
    method: methodPath,
    span,
    log,
    setTrailer: (key, value) => trailers.set(key, value),
  };
  return {
    ctx,
    otelContext,
    trailers,
    finish(err) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.calls.delete(ac);
      // After a cancel or deadline grpc-js already sent that status; whatever the handler did is moot.
      const reason: unknown = ac.signal.aborted ? ac.signal.reason : undefined;
      const final = reason instanceof ServiceError ? reason : err;
      const code = final?.code ?? grpc.status.OK;
      span.setAttribute('rpc.grpc.status_code', code);
      if (final && SERVER_ERROR_CODES.has(code)) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: final.message });
        if (final.cause instanceof Error) span.recordException(final.cause);
      }
      span.end();
      const durationMs = performance.now() - started;
      o.metrics.record('server', service, method.name, code, durationMs);
      if (log.isEnabled('debug')) log.debug('rpc finished', { code: grpc.status[code], duration_ms: Math.round(durationMs * 10) / 10 });
      if (final && code !== grpc.status.INTERNAL && code !== grpc.status.CANCELLED && code !== grpc.status.DEADLINE_EXCEEDED) {
        log.info('rpc failed', { code: grpc.status[code], error: final.message });
      }
    },
  };
}

function wrap(method: DescMethod, handler: AnyHandler, o: Required<DefinitionOptions>): grpc.UntypedHandleCall {
  const mapError = (err: unknown) => toServiceError(err, o.log);
  switch (method.methodKind) {
    case 'unary':
      return (call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
        const s = beginCall(call, method, o);
        void context.with(s.otelContext, async () => {
          try {
            const out = await (handler as UnaryHandler<DescMessage, DescMessage>)(decoded(method, call.request), s.ctx);
            const msg = create(method.output, out);
            s.finish();
            callback(null, msg, s.trailers);
          } catch (e) {
            const err = toServiceError(e, s.ctx.log);
            s.finish(err);
            callback(toGrpcStatus(err, s.trailers));
          }
        });
      };
    case 'client_streaming':
      return (call: grpc.ServerReadableStream<Message, Message>, callback: grpc.sendUnaryData<Message>) => {
        const s = beginCall(call, method, o);
        void context.with(s.otelContext, async () => {
          try {
            const reqs = decodedStream(method, iterateReadable<unknown>(call, { signal: s.ctx.signal, mapError }));
            const out = await (handler as ClientStreamHandler<DescMessage, DescMessage>)(reqs, s.ctx);
            const msg = create(method.output, out);
            s.finish();
            callback(null, msg, s.trailers);
          } catch (e) {
            const err = toServiceError(e, s.ctx.log);
            s.finish(err);
            callback(toGrpcStatus(err, s.trailers));
          }
        });
      };
    case 'server_streaming':
      return (call: grpc.ServerWritableStream<Message, Message>) => {
        const s = beginCall(call, method, o);
        void context.with(s.otelContext, () =>
          sendStream(call, method, s, () => (handler as ServerStreamHandler<DescMessage, DescMessage>)(decoded(method, call.request), s.ctx)),
        );
      };
    case 'bidi_streaming':
      return (call: grpc.ServerDuplexStream<Message, Message>) => {
        const s = beginCall(call, method, o);
        void context.with(s.otelContext, () =>
          sendStream(
            call,
            method,
            s,
            () =>
              (handler as BidiHandler<DescMessage, DescMessage>)(
                decodedStream(method, iterateReadable<unknown>(call, { signal: s.ctx.signal, mapError })),
                s.ctx,
              ),
          ),
        );
      };
  }
}

async function sendStream(
  call: grpc.ServerWritableStream<Message, Message> | grpc.ServerDuplexStream<Message, Message>,
  method: DescMethod,
  s: CallScope,
  start: () => AsyncIterable<MessageInitShape<DescMessage>>,
): Promise<void> {
  try {
    for await (const out of start()) {
      s.ctx.signal.throwIfAborted();
      await writeWithBackpressure(call, create(method.output, out), s.ctx.signal);
    }
    s.finish();
    call.end(s.trailers);
  } catch (e) {
    const err = toServiceError(e, s.ctx.log);
    s.finish(err);
    // grpc-js turns an 'error' event on a server stream into the call's final status.
    if (!call.cancelled) call.emit('error', toGrpcStatus(err, s.trailers));
  }
}
