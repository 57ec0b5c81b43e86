// The versioned checkpoint store: <root>/<namespace>/v<000000000123>/ with a manifest.json listing every
// file and its SHA-256. A version is written into a temp directory, every file fsynced, then renamed
// into place in one step, so a crash leaves either the whole version or none (temp dirs are removed
// on the next open). Loading verifies every hash: silent corruption becomes a DATA_LOSS naming the file.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CheckpointError } from './errors.js';

export interface ManifestFile {
  path: string;
  sha256: string;
  sizeBytes: number;
}

export interface Manifest {
  version: number;
  createdAt: string;
  files: ManifestFile[];
  metadata: Record<string, unknown>;
}

const VERSION_DIR = /^v(\d{12})$/;
const TMP_PREFIX = '.tmp-';

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class CheckpointStore {
  private constructor(readonly root: string) {}

  /** Opens (creating) the store and removes half-written versions left by a crash. */
  static open(root: string): CheckpointStore {
    mkdirSync(root, { recursive: true });
    for (const ns of readdirSync(root, { withFileTypes: true })) {
      if (!ns.isDirectory()) continue;
      for (const entry of readdirSync(join(root, ns.name))) if (entry.startsWith(TMP_PREFIX)) rmSync(join(root, ns.name, entry), { recursive: true, force: true });
    }
    return new CheckpointStore(root);
  }

  dir(namespace: string, version: number): string {
    return join(this.root, namespace, `v${String(version).padStart(12, '0')}`);
  }

  save(namespace: string, version: number, content: { files: Record<string, Uint8Array | string>; metadata?: Record<string, unknown> }): Manifest {
    if (!/^[A-Za-z0-9._-]+$/.test(namespace)) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint namespace "${namespace}" must be [A-Za-z0-9._-]+`);
    if (!Number.isSafeInteger(version) || version < 0) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint version must be a non-negative integer, got ${version}`);
    const final = this.dir(namespace, version);
    if (existsSync(final)) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint ${namespace} v${version} already exists (${final})`);
    const tmp = join(this.root, namespace, `${TMP_PREFIX}${version}-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    const files: ManifestFile[] = [];
    const write = (rel: string, bytes: Uint8Array | string) => {
      const p = join(tmp, rel);
      mkdirSync(dirname(p), { recursive: true });
      const fd = openSync(p, 'w');
      try {
        writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes) : bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    };
    for (const [rel, bytes] of Object.entries(content.files)) {
      if (rel.includes('..') || rel.startsWith('/')) throw new CheckpointError('INVALID_ARGUMENT', `checkpoint file path "${rel}" must be relative`);
      write(rel, bytes);
      const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      files.push({ path: rel, sha256: createHash('sha256').update(buf).digest('hex'), sizeBytes: buf.byteLength });
    }
    const manifest: Manifest = { version, createdAt: new Date().toISOString(), files, metadata: content.metadata ?? {} };
    write('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
    fsyncDir(tmp);
    renameSync(tmp, final);
    fsyncDir(join(this.root, namespace));
    return manifest;
  }

  /** Versions of a namespace, oldest first. */
  list(namespace: string): number[] {
    const d = join(this.root, namespace);
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

  manifest(namespace: string, version: number): Manifest {
    const p = join(this.dir(namespace, version), 'manifest.json');
    if (!existsSync(p)) throw new CheckpointError('NOT_FOUND', `checkpoint ${namespace} v${version} does not exist (${p})`);
    return JSON.parse(readFileSync(p, 'utf8')) as Manifest;
  }

  /** Verifies every file against the manifest; returns the directory and manifest. */
  verify(namespace: string, version: number): { dir: string; manifest: Manifest } {
    const manifest = this.manifest(namespace, version);
    const dir = this.dir(namespace, version);
    for (const f of manifest.files) {
      const p = join(dir, f.path);
      if (!existsSync(p)) throw new CheckpointError('DATA_LOSS', `checkpoint ${namespace} v${version}: ${p} is missing`);
      const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
      if (sha !== f.sha256) throw new CheckpointError('DATA_LOSS', `checkpoint ${namespace} v${version}: ${p} is corrupt (sha256 ${sha}, manifest says ${f.sha256})`);
    }
    return { dir, manifest };
  }

  /** Keeps the newest `keepLast` versions and any in `keep` (e.g. the best checkpoint). */
  prune(namespace: string, keepLast: number, keep: ReadonlySet<number> = new Set()): number[] {
    const versions = this.list(namespace);
    const removed = versions.slice(0, Math.max(0, versions.length - keepLast)).filter((v) => !keep.has(v));
    for (const v of removed) rmSync(this.dir(namespace, v), { recursive: true, force: true });
    return removed;
  }
}
