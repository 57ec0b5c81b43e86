// Job log lines (WatchJobResponse.log): what a person reading a job's events needs to know that no
// metric says, e.g. "resumed from v3 at step 10", "generator unavailable, retry 2 in 500 ms".
import { timestampNow } from '@bufbuild/protobuf/wkt';
import { LogLevel } from '@juice/proto';
import type { RunContext } from '../job-manager.js';

export function jobLog(ctx: RunContext, level: 'info' | 'warn', logger: string, message: string, attributes: Record<string, string | number | bigint | boolean> = {}): void {
  ctx.emit({
    case: 'log',
    value: {
      time: timestampNow(),
      level: level === 'warn' ? LogLevel.WARN : LogLevel.INFO,
      message,
      logger,
      attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, String(v)])),
    },
  });
}
