// A reader for R's lazy-load data bases (<pkg>/data/Rdata.rdb + .rdx), the form in which R packages
// ship their data sets (e.g. Debian's r-cran-janeaustenr), so juice can read them without R.
// Only what data sets use is decoded: R's XDR serialization (format versions 2 and 3) of NULL,
// symbols, pairlists (attributes), character / logical / integer / double vectors and lists.
// Anything else (closures, environments, ALTREP) is refused naming its SEXP type, rather than guessed.
// Layout (R's serialize.c and makeLazyLoadDB): the .rdx is a gzip file holding one serialized list
// (variables = name -> c(offset, length) into the .rdb, references, compressed); each .rdb entry is a
// 4-byte big-endian uncompressed length followed by a zlib stream (compress = TRUE, the default);
// bzip2 / xz entries (compress = 2 / 3) carry a type byte after the length and are refused here.
import { readFileSync } from 'node:fs';
import { gunzipSync, inflateSync } from 'node:zlib';

export type RValue =
  | { type: 'null' }
  | { type: 'symbol'; name: string }
  | { type: 'character'; values: (string | null)[]; attributes?: RAttributes }
  | { type: 'logical' | 'integer'; values: (number | null)[]; attributes?: RAttributes }
  | { type: 'double'; values: number[]; attributes?: RAttributes }
  | { type: 'list'; values: RValue[]; attributes?: RAttributes }
  | { type: 'pairlist'; entries: { tag?: string; value: RValue }[] };

export type RAttributes = Map<string, RValue>;

export class RDataError extends Error {
  override name = 'RDataError';
}

const SEXP = { NIL: 0, SYM: 1, LIST: 2, CHAR: 9, LGL: 10, INT: 13, REAL: 14, STR: 16, VEC: 19, EXPR: 20 } as const;
const SPECIAL = { REF: 255, NILVALUE: 254, GLOBALENV: 253, EMPTYENV: 242, BASEENV: 241, ALTREP: 238 } as const;
const NA_INTEGER = -2147483648;
const LATIN1_MASK = 1 << 2;

class XdrReader {
  private pos = 0;
  /** Symbols (and environments, which are refused) are shared by back-reference. */
  private readonly refs: RValue[] = [];

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  private int(): number {
    if (this.pos + 4 > this.buf.length) throw new RDataError(`${this.what}: truncated at byte ${this.pos}`);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  private length(): number {
    const n = this.int();
    if (n !== -1) return n;
    const hi = this.int();
    const lo = this.int();
    return hi * 2 ** 32 + (lo >>> 0);
  }

  header(): void {
    const magic = this.buf.subarray(0, 2).toString('latin1');
    if (magic !== 'X\n') throw new RDataError(`${this.what}: not XDR-serialized R data (starts ${JSON.stringify(magic)}; only format "X" is read)`);
    this.pos = 2;
    const version = this.int();
    this.int(); // writer's R version
    this.int(); // minimal reader version
    if (version === 3) {
      const nameLength = this.int(); // then the native encoding's name
      this.pos += nameLength;
    }
    else if (version !== 2) throw new RDataError(`${this.what}: serialization format version ${version} (2 and 3 are read)`);
  }

  item(): RValue {
    const flags = this.int();
    const type = flags & 0xff;
    const hasAttr = (flags & (1 << 9)) !== 0;
    const hasTag = (flags & (1 << 10)) !== 0;
    const levels = flags >> 12;
    switch (type) {
      case SPECIAL.NILVALUE:
      case SEXP.NIL:
        return { type: 'null' };
      case SPECIAL.REF: {
        const index = flags >> 8 || this.int();
        const v = this.refs[index - 1];
        if (!v) throw new RDataError(`${this.what}: reference ${index} to an object not read`);
        return v;
      }
      case SEXP.SYM: {
        const name = this.item();
        if (name.type !== 'character') throw new RDataError(`${this.what}: a symbol without a name`);
        const sym: RValue = { type: 'symbol', name: name.values[0] ?? 'NA' };
        this.refs.push(sym);
        return sym;
      }
      case SEXP.LIST: {
        const entries: { tag?: string; value: RValue }[] = [];
        // A pairlist is a chain of cells: read it as a loop so long attribute lists need no deep recursion.
        let attr = hasAttr;
        let tag = hasTag;
        for (;;) {
          if (attr) this.item(); // attributes on a pairlist cell: not used by data sets
          const t = tag ? this.item() : undefined;
          entries.push({ tag: t?.type === 'symbol' ? t.name : undefined, value: this.item() });
          const next = this.int();
          const nextType = next & 0xff;
          if (nextType === SPECIAL.NILVALUE) break;
          if (nextType !== SEXP.LIST) throw new RDataError(`${this.what}: a pairlist ending in SEXP type ${nextType}`);
          attr = (next & (1 << 9)) !== 0;
          tag = (next & (1 << 10)) !== 0;
        }
        return { type: 'pairlist', entries };
      }
      case SEXP.CHAR: {
        // Only inside character vectors and symbols; returned as a one-element character vector.
        return { type: 'character', values: [this.charsxp(levels)] };
      }
      case SEXP.LGL:
      case SEXP.INT: {
        const n = this.length();
        const values: (number | null)[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const v = this.int();
          values[i] = v === NA_INTEGER ? null : v;
        }
        return this.withAttributes({ type: type === SEXP.LGL ? 'logical' : 'integer', values }, hasAttr);
      }
      case SEXP.REAL: {
        const n = this.length();
        const values: number[] = new Array(n);
        for (let i = 0; i < n; i++, this.pos += 8) values[i] = this.buf.readDoubleBE(this.pos);
        return this.withAttributes({ type: 'double', values }, hasAttr);
      }
      case SEXP.STR: {
        const n = this.length();
        const values: (string | null)[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const f = this.int();
          if ((f & 0xff) !== SEXP.CHAR) throw new RDataError(`${this.what}: a character vector element of SEXP type ${f & 0xff}`);
          values[i] = this.charsxp(f >> 12);
        }
        return this.withAttributes({ type: 'character', values }, hasAttr);
      }
      case SEXP.VEC:
      case SEXP.EXPR: {
        const n = this.length();
        const values: RValue[] = [];
        for (let i = 0; i < n; i++) values.push(this.item());
        return this.withAttributes({ type: 'list', values }, hasAttr);
      }
      default:
        throw new RDataError(`${this.what}: SEXP type ${type} is not a data-set value juice reads (vectors, lists, NULL)`);
    }
  }

  private charsxp(levels: number): string | null {
    const n = this.int();
    if (n === -1) return null;
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return bytes.toString(levels & LATIN1_MASK ? 'latin1' : 'utf8');
  }

  private withAttributes<T extends RValue & { attributes?: RAttributes }>(v: T, hasAttr: boolean): T {
    if (!hasAttr) return v;
    const attrs = this.item();
    if (attrs.type !== 'pairlist') throw new RDataError(`${this.what}: attributes that are not a pairlist`);
    v.attributes = new Map(attrs.entries.filter((e) => e.tag !== undefined).map((e) => [e.tag!, e.value]));
    return v;
  }
}

/** One value from an uncompressed serialization ("X\n" header). */
export function unserializeR(buf: Buffer, what = 'R data'): RValue {
  const r = new XdrReader(buf, what);
  r.header();
  return r.item();
}

/** The element names of a vector or list (its "names" attribute). */
export function rNames(v: RValue): (string | null)[] {
  const names = 'attributes' in v ? v.attributes?.get('names') : undefined;
  return names?.type === 'character' ? names.values : [];
}

/** The objects of a lazy-load data base, `base` being the path without .rdb / .rdx. */
export function readLazyLoadDb(base: string): Map<string, RValue> {
  const index = unserializeR(gunzipSync(readFileSync(`${base}.rdx`)), `${base}.rdx`);
  if (index.type !== 'list') throw new RDataError(`${base}.rdx: not a lazy-load index (a list)`);
  const variables = index.values[rNames(index).indexOf('variables')];
  if (!variables || variables.type !== 'list') throw new RDataError(`${base}.rdx: no "variables" entry`);
  const db = readFileSync(`${base}.rdb`);
  const out = new Map<string, RValue>();
  rNames(variables).forEach((name, i) => {
    const where = variables.values[i]!;
    if ((where.type !== 'integer' && where.type !== 'double') || where.values.length !== 2) throw new RDataError(`${base}.rdx: the entry of ${name} is not (offset, length)`);
    const [offset, len] = where.values as number[];
    const entry = db.subarray(offset!, offset! + len!);
    const what = `${base}.rdb (${name})`;
    // zlib streams start with 0x78; bzip2 / xz entries have a type byte ('2', 'Z') after the length.
    if (entry[4] !== 0x78) throw new RDataError(`${what}: compressed with type ${JSON.stringify(String.fromCharCode(entry[4]!))} (only zlib, R's default, is read)`);
    const raw = inflateSync(entry.subarray(4));
    if (raw.length !== entry.readUInt32BE(0)) throw new RDataError(`${what}: ${raw.length} bytes after inflating, the header says ${entry.readUInt32BE(0)}`);
    out.set(name ?? `#${i}`, unserializeR(raw, what));
  });
  return out;
}
