// Jane Austen's six completed novels (public domain texts, Project Gutenberg transcriptions) as
// Debian's r-cran-janeaustenr ships them: one character vector per novel, one element per printed
// line, in R's lazy-load data base <janeaustenr>/data/Rdata.{rdb,rdx} (read by r-data.ts, no R
// needed at run time). About 4 MB of English prose: the pretraining corpus.
import { RDataError, readLazyLoadDb } from './r-data.js';
import { requireFiles, type PackagedSource } from './packaged-source.js';

export const AUSTEN_SOURCE: PackagedSource = {
  package: 'r-cran-janeaustenr',
  install: 'apt-get install --no-install-recommends r-cran-janeaustenr',
  defaultPath: '/usr/lib/R/site-library/janeaustenr/data/Rdata',
  licence: 'texts in the public domain (Project Gutenberg transcriptions); the R package is MIT (Julia Silge)',
};

export const AUSTEN_NOVELS: Readonly<Record<string, string>> = {
  sensesensibility: 'Sense & Sensibility',
  prideprejudice: 'Pride & Prejudice',
  mansfieldpark: 'Mansfield Park',
  emma: 'Emma',
  northangerabbey: 'Northanger Abbey',
  persuasion: 'Persuasion',
};

export interface Novel {
  key: string;
  title: string;
  lines: string[];
}

/** The six novels from the installed package (`base`: the data base path without .rdb / .rdx). */
export function readAustenNovels(base = AUSTEN_SOURCE.defaultPath): Novel[] {
  requireFiles(AUSTEN_SOURCE, [`${base}.rdx`, `${base}.rdb`]);
  const db = readLazyLoadDb(base);
  return Object.entries(AUSTEN_NOVELS).map(([key, title]) => {
    const v = db.get(key);
    if (!v || v.type !== 'character') throw new RDataError(`${base}: no character vector "${key}" (${title})`);
    return { key, title, lines: v.values.map((l) => l ?? '') };
  });
}

export interface TextDocument {
  /** e.g. "emma/chapter-12". */
  id: string;
  text: string;
}

const CHAPTER = /^\s*(CHAPTER|Chapter)\s+([0-9IVXLC]+)\.?\s*$/;
/** Volume headings ("VOLUME II") only separate chapters; they are not text. */
const VOLUME = /^\s*VOLUME\s+[IVX]+\.?\s*$/i;

/**
 * A novel cut into chapters (the documents a pretraining run packs), each as paragraphs joined by a
 * blank line, a paragraph's wrapped lines joined by spaces, Gutenberg's _italics_ marks removed.
 * The front matter before the first chapter heading is its own document.
 */
export function novelToDocuments(novel: Novel): TextDocument[] {
  const docs: TextDocument[] = [];
  let id = `${novel.key}/front`;
  let paragraphs: string[] = [];
  let current: string[] = [];
  const endParagraph = () => {
    if (current.length) paragraphs.push(current.join(' ').replace(/_([^_]+)_/g, '$1').replace(/\s+/g, ' ').trim());
    current = [];
  };
  const endDocument = () => {
    endParagraph();
    if (paragraphs.length) docs.push({ id, text: paragraphs.join('\n\n') });
    paragraphs = [];
  };
  let chapter = 0;
  for (const line of novel.lines) {
    if (CHAPTER.test(line)) {
      endDocument();
      chapter++;
      id = `${novel.key}/chapter-${chapter}`;
      continue;
    }
    if (VOLUME.test(line)) endParagraph();
    else if (line.trim() === '') endParagraph();
    else current.push(line.trim());
  }
  endDocument();
  return docs;
}
