// Typed configuration from flags and environment variables, one spec per role.
// Precedence: --flag beats ENV_VAR beats default, so a compose file or Helm chart sets env and a person
// debugging overrides with a flag. Errors name both the flag and the env var, because the user may not
// know which of the two a deployment used.

export type ConfigType = 'string' | 'int' | 'float' | 'bool' | 'list';

export interface ConfigEntry {
  type: ConfigType;
  /** Flag name without dashes; default: the key in kebab-case. */
  flag?: string;
  /** Environment variable, e.g. JUICE_PORT. */
  env?: string;
  default?: string | number | boolean | readonly string[];
  help: string;
  required?: boolean;
  /** Allowed values (string and list entries). */
  choices?: readonly string[];
  /** Inclusive bounds for int and float. */
  min?: number;
  max?: number;
}

export type ConfigSpec = Record<string, ConfigEntry>;

type ValueOf<E extends ConfigEntry> = E['type'] extends 'int' | 'float'
  ? number
  : E['type'] extends 'bool'
    ? boolean
    : E['type'] extends 'list'
      ? string[]
      : E['choices'] extends readonly (infer C extends string)[]
        ? C
        : string;

export type ConfigOf<S extends ConfigSpec> = {
  -readonly [K in keyof S]: S[K] extends { default: unknown } | { required: true } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** Identity, but keeps literal types so parseConfig's result is typed (`port: number`). */
export function defineConfig<const S extends ConfigSpec>(spec: S): S {
  return spec;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Thrown by parseConfig for --help / -h; runService prints `text` and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/_/g, '-');
const flagOf = (key: string, e: ConfigEntry) => e.flag ?? kebab(key);

function describe(key: string, e: ConfigEntry): string {
  return e.env ? `--${flagOf(key, e)} / ${e.env}` : `--${flagOf(key, e)}`;
}

function convert(key: string, e: ConfigEntry, raw: string, source: string): unknown {
  const bad = (expected: string) =>
    new ConfigError(`invalid value ${JSON.stringify(raw)} for ${describe(key, e)} (from ${source}): expected ${expected}`);
  switch (e.type) {
    case 'string':
      if (e.choices && !e.choices.includes(raw)) throw bad(`one of ${e.choices.join(', ')}`);
      return raw;
    case 'int':
    case 'float': {
      const t = raw.trim();
      const n = e.type === 'int' ? (/^[-+]?\d+$/.test(t) ? Number(t) : NaN) : t === '' ? NaN : Number(t);
      if (!Number.isFinite(n) || (e.type === 'int' && !Number.isSafeInteger(n))) throw bad(e.type === 'int' ? 'an integer' : 'a number');
      const range = `${e.type === 'int' ? 'an integer' : 'a number'}${e.min !== undefined ? ` >= ${e.min}` : ''}${e.max !== undefined ? `${e.min !== undefined ? ' and' : ''} <= ${e.max}` : ''}`;
      if ((e.min !== undefined && n < e.min) || (e.max !== undefined && n > e.max)) throw bad(range);
      return n;
    }
    case 'bool': {
      const t = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(t)) return true;
      if (['0', 'false', 'no', 'off'].includes(t)) return false;
      throw bad('true or false');
    }
    case 'list': {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const wrong = e.choices ? items.find((i) => !e.choices!.includes(i)) : undefined;
      if (wrong !== undefined) throw bad(`a comma-separated list of ${e.choices!.join(', ')}`);
      return items;
    }
  }
}

export function parseConfig<S extends ConfigSpec>(
  spec: S,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  opts: { name?: string; description?: string } = {},
): ConfigOf<S> {
  const byFlag = new Map<string, string>();
  for (const [key, e] of Object.entries(spec)) {
    const flag = flagOf(key, e);
    if (byFlag.has(flag)) throw new Error(`config spec: flag --${flag} is used by both "${byFlag.get(flag)}" and "${key}"`);
    byFlag.set(flag, key);
  }

  const fromFlags = new Map<string, { raw: string; source: string }>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') throw new HelpRequested(helpText(spec, opts));
    if (arg === '--') break;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: options are --flag value or --flag=value (see --help)`);
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let key = byFlag.get(name);
    if (key === undefined && name.startsWith('no-') && raw === undefined) {
      const k = byFlag.get(name.slice(3));
      if (k !== undefined && spec[k]!.type === 'bool') {
        key = k;
        name = name.slice(3);
        raw = 'false';
      }
    }
    if (key === undefined) throw new ConfigError(`unknown flag --${name} (see --help for the list)`);
    const e = spec[key]!;
    if (raw === undefined) {
      // Bool flags take no separate value, so `--verbose next-arg` is unambiguous.
      if (e.type === 'bool') raw = 'true';
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith('--') && next.length > 2)) throw new ConfigError(`flag ${describe(key, e)} needs a value`);
        raw = next;
        i++;
      }
    }
    // A list flag may be repeated (--data-root A --data-root B): the values add up.
    const earlier = fromFlags.get(key);
    fromFlags.set(key, e.type === 'list' && earlier ? { raw: `${earlier.raw},${raw}`, source: `--${name}` } : { raw, source: `--${name}` });
  }

  const out: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(spec)) {
    const f = fromFlags.get(key);
    const envRaw = e.env !== undefined ? env[e.env] : undefined;
    if (f) out[key] = convert(key, e, f.raw, f.source);
    else if (envRaw !== undefined && envRaw !== '') out[key] = convert(key, e, envRaw, e.env!);
    else if (e.default !== undefined) out[key] = Array.isArray(e.default) ? [...(e.default as string[])] : e.default;
    else if (e.required) throw new ConfigError(`missing required ${describe(key, e)}: ${e.help}`);
    else out[key] = undefined;
  }
  return out as ConfigOf<S>;
}

export function helpText(spec: ConfigSpec, opts: { name?: string; description?: string } = {}): string {
  const lines: string[] = [];
  if (opts.name) lines.push(`Usage: ${opts.name} [options]`, '');
  if (opts.description) lines.push(opts.description, '');
  lines.push('Options (flags beat environment variables beat defaults):');
  const rows = Object.entries(spec).map(([key, e]) => {
    const value = e.type === 'bool' ? '' : ` <${e.type === 'list' ? 'a,b,...' : e.type}>`;
    const left = `  --${flagOf(key, e)}${value}`;
    const extras: string[] = [];
    if (e.choices) extras.push(`one of: ${e.choices.join(', ')}`);
    if (e.env) extras.push(`env ${e.env}`);
    if (e.default !== undefined) extras.push(`default ${Array.isArray(e.default) ? e.default.join(',') || '(empty)' : JSON.stringify(e.default)}`);
    if (e.required) extras.push('required');
    return { left, right: `${e.help}${extras.length ? ` [${extras.join('; ')}]` : ''}` };
  });
  rows.push({ left: '  --help, -h', right: 'print this help and exit' });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  for (const r of rows) lines.push(r.left.padEnd(width) + r.right);
  return lines.join('\n') + '\n';
}
