// The versioned checkpoint store: <root>/<namespace>/v000000000123/ holding the files and a
// manifest.json with every file's SHA-256 and size. A version is written into a temp directory, each
// file fsynced, the directory fsynced, then renamed into place in one step: a crash leaves the whole
// version or none. Temp directories of dead writers are removed on the next open. Loading verifies
// every hash, so silent corruption surfaces as DATA_LOSS naming the file instead of as a bad model.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { CheckpointError } from './errors.js';
import { sha256Bytes, sha256File } from './file-hash.js';
import { describeJsonError } from '@juice/proto';

export interface ManifestFile {
  /** Relative to the version directory, '/'-separated. */
  path: string;
  sha256: string;
  size: number;
}

/** manifest.json as written (snake_case: it is read by tools outside juice too). */
export interface Manifest {
  version: number;
  created_at: string;
  files: ManifestFile[];
  metadata: Record<string, unknown>;
}

export interface LoadedCheckpoint {
  namespace: string;
  version: number;
  dir: string;
  manifest: Manifest;
  /** Absolute path of each verified file, by its relative path. */
  files: Map<string, string>;
}

export const MANIFEST = 'manifest.json';
const VERSION_DIGITS = 12;
const VERSION_DIR = new RegExp(`^v(\\d{${VERSION_DIGITS}})$`);
const TMP_PREFIX = '.tmp-';
const TMP_DIR = /^\.tmp-\d+-(\d+)-/;
const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeSynced(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    for (let done = 0; done < buf.byteLength; ) done += writeSync(fd, buf, done, buf.byteLength - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A writer that is still running must keep its temp directory; only a dead one's is a crash leftover. */
function writerAlive(pid: number): boolean {
  if (pid === process.pid) return false; // saves are synchronous: none of ours is in flight during open()
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function checkRelPath(rel: string): string {
  const norm = normalize(rel).split(sep).join('/');
  if (!rel || rel.startsWith('/') || norm.startsWith('../') || norm === '..' || norm === '.' || /^[A-Za-z]:/.test(rel)) {
    throw new CheckpointError('INVALID_ARGUMENT', `checkpoint file path "${rel}" must be relative and inside the version directory`);
  }
  if (norm === MANIFEST) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint file path "${rel}" is reserved for the store's manifest`);
  return norm;
}

export class CheckpointStore {
  private tmpSeq = 0;

  private constructor(readonly root: string) {}

  /** Opens (creating) the store and removes half-written versions left by crashed writers. */
  static open(root: string): CheckpointStore {
    mkdirSync(root, { recursive: true });
    for (const ns of readdirSync(root, { withFileTypes: true })) {
      if (!ns.isDirectory()) continue;
      for (const entry of readdirSync(join(root, ns.name))) {
        if (!entry.startsWith(TMP_PREFIX)) continue;
        const pid = Number(TMP_DIR.exec(entry)?.[1] ?? NaN);
        if (Number.isNaN(pid) || !writerAlive(pid)) rmSync(join(root, ns.name, entry), { recursive: true, force: true });
      }
    }
    return new CheckpointStore(root);
  }

  private nsDir(namespace: string): string {
    if (!NAMESPACE.test(namespace)) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint namespace "${namespace}" must match ${NAMESPACE.source}`);
    return join(this.root, namespace);
  }

  dir(namespace: string, version: number): string {
    if (!Number.isSafeInteger(version) || version < 0 || String(version).length > VERSION_DIGITS) {
      throw new CheckpointError('INVALID_ARGUMENT', `checkpoint version must be an integer in [0, ${10 ** VERSION_DIGITS - 1}], got ${version}`);
    }
    return join(this.nsDir(namespace), `v${String(version).padStart(VERSION_DIGITS, '0')}`);
  }

  save(namespace: string, version: number, content: { files: Record<string, Uint8Array | string>; metadata?: Record<string, unknown> }): Manifest {
    const final = this.dir(namespace, version);
    if (existsSync(final)) throw new CheckpointError('ALREADY_EXISTS', `checkpoint ${namespace} v${version} already exists (${final})`);
    const paths = Object.keys(content.files).map((rel) => [rel, checkRelPath(rel)] as const);
    const nsDir = this.nsDir(namespace);
    mkdirSync(nsDir, { recursive: true });
    const tmp = join(nsDir, `${TMP_PREFIX}${version}-${process.pid}-${this.tmpSeq++}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      const files: ManifestFile[] = [];
      const dirs = new Set<string>([tmp]);
      for (const [rel, norm] of paths) {
        const bytes = content.files[rel]!;
        const p = join(tmp, norm);
        writeSynced(p, bytes);
        dirs.add(dirname(p));
        const size = typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.byteLength;
        files.push({ path: norm, sha256: sha256Bytes(bytes), size });
      }
      const manifest: Manifest = { version, created_at: new Date().toISOString(), files, metadata: content.metadata ?? {} };
      writeSynced(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
      // Directory entries must be durable before the rename publishes them.
      for (const d of dirs) fsyncPath(d);
      renameSync(tmp, final);
      fsyncPath(nsDir);
      return manifest;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CheckpointError('ALREADY_EXISTS', `checkpoint ${namespace} v${version} was written concurrently by another writer (${final})`);
      }
      throw e;
    }
  }

  /** Versions of a namespace, oldest first (temp directories are not versions). */
  list(namespace: string): number[] {
    const d = this.nsDir(namespace);
    if (!existsSync(d)) return [];
    return readdirSync(d)
      .map((e) => VERSION_DIR.exec(e))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  latest(namespace: string): number | undefined {
    return this.list(namespace).at(-1);
  }

  /** The manifest, unverified. */
  manifest(namespace: string, version: number): Manifest {
    const p = join(this.dir(namespace, version), MANIFEST);
    if (!existsSync(p)) throw new CheckpointError('NOT_FOUND', `checkpoint ${namespace} v${version} does not exist (no ${p}); versions: [${this.list(namespace).join(', ')}]`);
    let m: Manifest;
    let text = '';
    try {
      text = readFileSync(p, 'utf8');
      m = JSON.parse(text) as Manifest;
    } catch {
      throw new CheckpointError('DATA_LOSS', `${p} is corrupt: ${describeJsonError(text)}`);
    }
    if (m.version !== version || !Array.isArray(m.files)) throw new CheckpointError('DATA_LOSS', `${p} is corrupt: expected version ${version} and a files list`);
    return m;
  }

  /** Verifies every file's size and SHA-256 against the manifest (DATA_LOSS naming the file) and returns their paths. */
  load(namespace: string, version: number): LoadedCheckpoint {
    const manifest = this.manifest(namespace, version);
    const dir = this.dir(namespace, version);
    const files = new Map<string, string>();
    for (const f of manifest.files) {
      const p = join(dir, checkRelPath(f.path));
      if (!existsSync(p)) throw new CheckpointError('DATA_LOSS', `checkpoint ${namespace} v${version}: ${p} is missing`);
      const got = sha256File(p);
      if (got.sizeBytes !== f.size) throw new CheckpointError('DATA_LOSS', `checkpoint ${namespace} v${version}: ${p} is corrupt (${got.sizeBytes} bytes, manifest says ${f.size})`);
      if (got.sha256 !== f.sha256) throw new CheckpointError('DATA_LOSS', `checkpoint ${namespace} v${version}: ${p} is corrupt (sha256 ${got.sha256}, manifest says ${f.sha256})`);
      files.set(f.path, p);
    }
    return { namespace, version, dir, manifest, files };
  }

  /** Same as load (the name says what it is for when the files are then read by path). */
  verify(namespace: string, version: number): LoadedCheckpoint {
    return this.load(namespace, version);
  }

  /** Removes all but the newest `keepLast` versions and those in `keep` (e.g. the best); returns the removed versions. */
  prune(namespace: string, keepLast: number, keep: ReadonlySet<number> = new Set()): number[] {
    if (!Number.isSafeInteger(keepLast) || keepLast < 0) throw new CheckpointError('INVALID_ARGUMENT', `keepLast must be a non-negative integer, got ${keepLast}`);
    const versions = this.list(namespace);
    const removed = versions.slice(0, Math.max(0, versions.length - keepLast)).filter((v) => !keep.has(v));
    for (const v of removed) {
      // Rename first so a crash mid-delete leaves a temp dir (cleaned on open), never a half-deleted version.
      const doomed = join(this.nsDir(namespace), `${TMP_PREFIX}${v}-${process.pid}-${this.tmpSeq++}-pruned`);
      renameSync(this.dir(namespace, v), doomed);
      rmSync(doomed, { recursive: true, force: true });
    }
    if (removed.length) fsyncPath(this.nsDir(namespace));
    return removed;
  }
}
