export {
  ServiceError,
  ERROR_DETAILS_TRAILER,
  invalidArgument,
  notFound,
  alreadyExists,
  failedPrecondition,
  resourceExhausted,
  unavailable,
  deadlineExceeded,
  unimplemented,
  internal,
  aborted,
  cancelled,
  toServiceError,
  libraryStatus,
  fromGrpcError,
  rejectInvalid,
  withField,
  type FieldViolation,
} from './errors.js';
export {
  serviceDefinition,
  methodDefinition,
  grpcDefinition,
  CallRegistry,
  type Ctx,
  type UnaryHandler,
  type ServerStreamHandler,
  type ClientStreamHandler,
  type BidiHandler,
  type HandlerFor,
  type ServiceImpl,
  type BuiltService,
  type DefinitionOptions,
} from './handlers.js';
export {
  startServer,
  defineService,
  formatAddress,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type ServerOptions,
  type RunningServer,
  type ServiceRegistration,
} from './server.js';
export {
  createClient,
  type Client,
  type ClientControls,
  type ClientOptions,
  type CallOptions,
  type ClientMethodFor,
  type UnaryFn,
  type ServerStreamFn,
  type ClientStreamFn,
  type BidiFn,
} from './client.js';
export { createHealth, type HealthControl, type ServingStatus } from './health.js';
export { addReflection, collectFiles } from './reflection.js';
export {
  defineConfig,
  parseConfig,
  helpText,
  ConfigError,
  HelpRequested,
  type ConfigSpec,
  type ConfigEntry,
  type ConfigType,
  type ConfigOf,
} from './config.js';
export { createLogger, defaultLogger, LOG_LEVELS, type Logger, type LogLevel, type LogFields } from './logger.js';
export { startTelemetry, meter, tracer, type Telemetry, type TelemetryOptions } from './telemetry.js';
export {
  runService,
  commonConfigSpec,
  type CommonConfig,
  type Built,
  type RunServiceOptions,
  type ServiceHandle,
} from './run-service.js';
export {
  TokenTable,
  METHOD_SCOPES,
  OPEN_SERVICES,
  MIN_TOKEN_LENGTH,
  authorize,
  authInterceptor,
  bearerToken,
  requiredScope,
  isOpenMethod,
  type Scope,
  type AuthOptions,
} from './auth.js';
export {
  serverCredentials,
  clientCredentials,
  exposureRefusal,
  isLoopback,
  readPem,
  type ServerTlsFiles,
  type ClientTlsFiles,
} from './transport-security.js';
export {
  peerConfigSpec,
  peerSecurity,
  applyPeerConfig,
  setClientDefaults,
  clientDefaults,
  readTokenFile,
  type PeerConfig,
  type PeerSecurity,
} from './peer.js';
export { status, Metadata } from '@grpc/grpc-js';
export { checkWireValues } from './wire-values.js';
export { ServicePool, endpointList, resolveEndpoints, isReplicaFailure, shareCounts, type Replica, type PoolEvent, type PoolOptions, type PoolClient } from './pool.js';
export { GeneratorPool, RewardModelPool } from './role-pools.js';
