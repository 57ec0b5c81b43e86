// Structured logs: one JSON object per line on stderr. stdout is reserved for the single "listening"
// line that launchers (the CLI, tests, compose healthchecks) parse.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (e.g. method, trace_id). */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export function createLogger(
  service: string,
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Logger {
  if (!isLogLevel(level)) throw new Error(`invalid log level "${String(level)}": expected one of ${LOG_LEVELS.join(', ')}`);
  const make = (bound: LogFields): Logger => {
    const emit = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields) => {
      if (rank[lvl] < rank[level]) return;
      const line: LogFields = { time: new Date().toISOString(), level: lvl, service, msg, ...bound };
      if (fields) for (const [k, v] of Object.entries(fields)) line[k] = v instanceof Error ? errorFields(v) : v;
      write(safeStringify(line) + '\n');
    };
    return {
      level,
      debug: (m, f) => emit('debug', m, f),
      info: (m, f) => emit('info', m, f),
      warn: (m, f) => emit('warn', m, f),
      error: (m, f) => emit('error', m, f),
      child: (fields) => make({ ...bound, ...fields }),
      isEnabled: (lvl) => rank[lvl] >= rank[level] && lvl !== 'silent',
    };
  };
  return make({});
}

function errorFields(e: Error): LogFields {
  return { name: e.name, message: e.message, stack: e.stack };
}

// A log call must never throw (BigInt token counts, cycles in an error's cause chain).
function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object' && v !== null) {
      if (seen.has(v)) return '[circular]';
      seen.add(v);
    }
    return v;
  });
}

/** Used where no service logger was passed (library code called outside runService). */
export const defaultLogger: Logger = createLogger(
  process.env.OTEL_SERVICE_NAME ?? 'juice',
  isLogLevel(process.env.JUICE_LOG_LEVEL ?? '') ? (process.env.JUICE_LOG_LEVEL as LogLevel) : 'info',
);
