// Corpora juice reads from an installed Debian package at run time: nothing is downloaded, and a
// missing package is refused with the one command that installs it, so a run never trains on
// something other than the documented data.
import { existsSync } from 'node:fs';

export interface PackagedSource {
  /** The Debian package that ships the files. */
  package: string;
  /** The command that installs it (what the refusal tells the user to run). */
  install: string;
  /** Where the package puts its data (a directory, or a path prefix such as .../Rdata). */
  defaultPath: string;
  /** Licence of the data, as the package's /usr/share/doc/<package>/copyright states it. */
  licence: string;
}

export class CorpusNotInstalledError extends Error {
  override name = 'CorpusNotInstalledError';
  constructor(
    readonly source: PackagedSource,
    readonly missing: string,
  ) {
    super(`${missing} not found: the ${source.package} corpus is read from the installed Debian package; install it with \`${source.install}\` (or give its files' location)`);
  }
}

/** Every file must exist; else the refusal names the first missing file and the install command. */
export function requireFiles(source: PackagedSource, files: readonly string[]): void {
  for (const f of files) if (!existsSync(f)) throw new CorpusNotInstalledError(source, f);
}
