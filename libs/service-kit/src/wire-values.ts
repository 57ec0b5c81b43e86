// Values every request field must hold, checked once for every RPC by walking the message with its
// descriptor: an enum field holds one of the enum's declared numbers (proto3 decoding keeps unknown
// numbers, e.g. logprob_source = 99, which no handler can honour), and a float or double field holds a
// finite number (NaN passes every `<`/`>` range check, so a per-field check is easy to miss).
// Per-field limits stay in the hand-written validators; this is the net under all of them.
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { ScalarType } from '@bufbuild/protobuf';
import type { FieldViolation } from './errors.js';

class Violations {
  readonly list: FieldViolation[] = [];
  add(field: string, problem: string): void {
    this.list.push({ field, problem });
  }
}

/** Nesting deeper than this is refused rather than walked (no juice message nests nearly as deep). */
const MAX_DEPTH = 32;
/** Well-known types protobuf-es represents as plain JSON values, not messages. */
const JSON_TYPES = new Set(['google.protobuf.Struct', 'google.protobuf.Value', 'google.protobuf.ListValue']);

type Plain = Record<string, unknown>;

/** Violations of enum and float fields anywhere in `message` (field paths as a client writes them). */
export function checkWireValues(schema: DescMessage, message: unknown): FieldViolation[] {
  const v = new Violations();
  walk(v, schema, message as Plain, '', 0);
  return v.list;
}

function fieldValue(msg: Plain, f: DescField): unknown {
  if (f.oneof) {
    const o = msg[f.oneof.localName] as { case?: string; value?: unknown } | undefined;
    return o?.case === f.localName ? o.value : undefined;
  }
  return msg[f.localName];
}

function walk(v: Violations, schema: DescMessage, msg: Plain, prefix: string, depth: number): void {
  if (depth > MAX_DEPTH) {
    v.add(prefix || schema.name, `nests messages deeper than ${MAX_DEPTH} levels`);
    return;
  }
  for (const f of schema.fields) {
    const value = fieldValue(msg, f);
    if (value === undefined || value === null) continue;
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    switch (f.fieldKind) {
      case 'scalar':
        checkScalar(v, path, f.scalar, value);
        break;
      case 'enum':
        checkEnum(v, path, f, value);
        break;
      case 'message':
        visitMessage(v, f.message, value, path, depth);
        break;
      case 'list':
        (value as unknown[]).forEach((item, i) => {
          const at = `${path}[${i}]`;
          if (f.listKind === 'scalar') checkScalar(v, at, f.scalar, item);
          else if (f.listKind === 'enum') checkEnum(v, at, f, item);
          else visitMessage(v, f.message, item, at, depth);
        });
        break;
      case 'map':
        for (const [key, item] of Object.entries(value as Plain)) {
          const at = `${path}[${JSON.stringify(key.length > 40 ? key.slice(0, 40) + '…' : key)}]`;
          if (f.mapKind === 'scalar') checkScalar(v, at, f.scalar, item);
          else if (f.mapKind === 'enum') checkEnum(v, at, f, item);
          else visitMessage(v, f.message, item, at, depth);
        }
        break;
    }
  }
}

function visitMessage(v: Violations, schema: DescMessage, value: unknown, path: string, depth: number): void {
  if (JSON_TYPES.has(schema.typeName)) return;
  // protobuf-es unboxes wrapper types (google.protobuf.DoubleValue...) to the plain scalar.
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) v.add(path, `must be a finite number, got ${value}`);
    return;
  }
  if (typeof value === 'object') walk(v, schema, value as Plain, path, depth + 1);
}

function checkScalar(v: Violations, path: string, scalar: ScalarType, value: unknown): void {
  if ((scalar === ScalarType.FLOAT || scalar === ScalarType.DOUBLE) && typeof value === 'number' && !Number.isFinite(value)) {
    v.add(path, `must be a finite number, got ${value}`);
  }
}

function checkEnum(v: Violations, path: string, f: DescField, value: unknown): void {
  const e = f.enum;
  if (!e || typeof value !== 'number') return;
  if (e.value[value] === undefined) {
    const known = e.values.map((x) => `${x.number} (${x.name})`).join(', ');
    v.add(path, `unknown ${e.name} value ${value}; valid: ${known}`);
  }
}
