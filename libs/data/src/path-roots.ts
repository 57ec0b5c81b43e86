// Which files a service reads on a request's behalf. A request names datasets, task files and model
// directories by path; a service reads them only under its data roots (--data-root), after resolving
// symlinks, and only regular files (no devices, FIFOs, /proc or /sys, whose reads never end or leak
// the process's own state). A path outside the roots is PERMISSION_DENIED whether or not it exists, so
// the answer cannot be used to probe the machine (NOT_FOUND vs INVALID_ARGUMENT for /root/.ssh/id_rsa).
//
// The roots are process-wide (a service sets them once at start, from its flags): every reader of a
// request-named path calls requestFile / requestDataPath / requestModelDir here, and opens the resolved
// path it returns, never the path as given. Without roots (libraries used in-process, the CLI) paths
// may be anywhere, but only regular files are still read.
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { DataFileError } from './file-digest.js';

/** Pseudo-filesystems never read on a request's behalf, even under a root. */
const NEVER = ['/proc', '/sys', '/dev'];

/** Characters of a request path quoted in an error (paths may be up to 4096 bytes). */
const PATH_ECHO = 200;

/** The path as an error names it: quoted, cut when long. */
export function shownPath(path: string): string {
  return path.length <= PATH_ECHO ? JSON.stringify(path) : `${JSON.stringify(path.slice(0, PATH_ECHO))}… (${path.length} characters)`;
}

/** The real path of `path`, resolving symlinks in the longest prefix that exists; exists = all of it. */
export function realpathDeepest(path: string): { real: string; exists: boolean } {
  const abs = isAbsolute(path) ? path : `${process.cwd()}${sep}${path}`;
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      const real = realpathSync.native(head);
      return { real: tail.length ? join(real, ...tail.reverse()) : real, exists: tail.length === 0 };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      const parent = dirname(head);
      if (parent === head) return { real: resolve(abs), exists: false };
      tail.push(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      head = parent;
    }
  }
}

const within = (path: string, root: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

export type PathKind = 'file' | 'directory' | 'file-or-directory';

export class PathRoots {
  /** Real paths of the roots; undefined = no root restriction. */
  readonly roots: readonly string[] | undefined;

  constructor(roots: readonly string[] | undefined) {
    this.roots = roots?.map((r) => realpathDeepest(resolve(r)).real);
  }

  /**
   * The real path `path` names, checked: under a root (PERMISSION_DENIED otherwise, existing or not),
   * existing (NOT_FOUND), and of the kind asked for (regular file and/or directory; anything else is
   * INVALID_ARGUMENT). `field` names the request field in messages.
   */
  resolve(path: string, kind: PathKind, field = 'path'): string {
    if (path.length === 0) throw new DataFileError('INVALID_ARGUMENT', `${field}: is empty; name a file or directory`);
    if (path.includes('\0')) throw new DataFileError('INVALID_ARGUMENT', `${field}: contains a NUL character`);
    let real: string;
    let exists: boolean;
    try {
      ({ real, exists } = realpathDeepest(path));
    } catch {
      // EACCES or a symlink loop while resolving: said the same way as any other refused path.
      throw this.denied(path, field);
    }
    if (!this.allows(real)) throw this.denied(path, field);
    if (!exists) throw new DataFileError('NOT_FOUND', `${field}: ${shownPath(path)} does not exist`);
    const st = statSync(real);
    checkKind(st, kind, path, field);
    return real;
  }

  /** Whether the (already resolved) path may be read: under a root and not in a pseudo-filesystem. */
  allows(real: string): boolean {
    if (NEVER.some((n) => within(real, n))) return false;
    return this.roots === undefined || this.roots.some((r) => within(real, r));
  }

  private denied(path: string, field: string): DataFileError {
    const where = this.roots === undefined ? 'a pseudo-filesystem (/proc, /sys, /dev), which is never read' : 'outside the data roots this service reads (its --data-root flags)';
    return new DataFileError('PERMISSION_DENIED', `${field}: ${shownPath(path)} is ${where}`);
  }
}

function checkKind(st: Stats, kind: PathKind, path: string, field: string): void {
  if (st.isFile() && kind !== 'directory') return;
  if (st.isDirectory() && kind !== 'file') return;
  const is = st.isDirectory() ? 'a directory' : st.isFile() ? 'a file' : 'not a regular file (a device, FIFO or socket)';
  const want = kind === 'file' ? 'a regular file' : kind === 'directory' ? 'a directory' : 'a regular file or a directory';
  throw new DataFileError('INVALID_ARGUMENT', `${field}: ${shownPath(path)} is ${is}; expected ${want}`);
}

let active = new PathRoots(undefined);

/** Sets the process's data roots (a service, once at start); undefined lifts the root restriction. */
export function setDataRoots(roots: readonly string[] | undefined): PathRoots {
  active = new PathRoots(roots);
  return active;
}

export function dataRoots(): PathRoots {
  return active;
}

/** A request-named file to read: its checked real path. */
export function requestFile(path: string, field?: string): string {
  return active.resolve(path, 'file', field);
}

/** A request-named dataset (a file, or a directory of shard files): its checked real path. */
export function requestDataPath(path: string, field?: string): string {
  return active.resolve(path, 'file-or-directory', field);
}

/**
 * A request-named model directory: its checked real path. Every entry in it that a loader may open
 * (config, tokenizer, weights) must itself resolve under the roots and be a regular file or directory,
 * so a symlinked config.json -> /etc/passwd or a FIFO named model.safetensors is refused up front.
 */
export function requestModelDir(path: string, field?: string): string {
  const dir = active.resolve(path, 'directory', field);
  for (const name of readdirSync(dir)) {
    const entry = join(dir, name);
    const l = lstatSync(entry);
    if (l.isSymbolicLink()) {
      let real: string;
      try {
        real = realpathSync.native(entry);
      } catch {
        continue; // a dangling link: loading fails on it as on a missing file, nothing is read
      }
      if (!active.allows(real)) throw new DataFileError('PERMISSION_DENIED', `${field ?? 'path'}: ${shownPath(join(path, name))} links outside the data roots this service reads`);
      checkKind(statSync(real), 'file-or-directory', join(path, name), field ?? 'path');
    } else checkKind(l, 'file-or-directory', join(path, name), field ?? 'path');
  }
  return dir;
}
