// WordNet 3.0 (Princeton; Debian's wordnet-base) read from its data.{noun,verb,adj,adv} files: every
// synset's words and its gloss, which lexicographers wrote by hand (a definition, often followed by
// quoted example sentences). File format (wndb(5)): "offset lex_filenum ss_type w_cnt word lex_id
// [word lex_id ...] p_cnt [pointers ...] [frames ...] | gloss"; w_cnt is hexadecimal, words use "_"
// for spaces, adjectives may carry a syntactic marker "(a)", "(p)" or "(ip)"; lines starting with
// two spaces are the licence header.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireFiles, type PackagedSource } from './packaged-source.js';

export const WORDNET_SOURCE: PackagedSource = {
  package: 'wordnet-base',
  install: 'apt-get install wordnet-base',
  defaultPath: '/usr/share/wordnet',
  licence: 'WordNet 3.0 licence (Princeton University; permissive, BSD-like: use, copy, modify and distribute with the copyright notice)',
};

export type WordnetPos = 'noun' | 'verb' | 'adj' | 'adv';
export const WORDNET_POS: readonly WordnetPos[] = ['noun', 'verb', 'adj', 'adv'];

export interface Synset {
  /** "<pos>:<offset>", unique across the four files. */
  id: string;
  pos: WordnetPos;
  /** The synset's words in file order, spaces restored and syntactic markers removed. */
  words: string[];
  /** The definition part of the gloss (everything before the first quoted example). */
  definition: string;
  /** The quoted example sentences of the gloss, without their quotes. */
  examples: string[];
}

const MARKER = /\((?:a|p|ip)\)$/;

/** Splits a gloss into its definition and its quoted examples. */
export function splitGloss(gloss: string): { definition: string; examples: string[] } {
  const parts = gloss.trim().split(/;\s*(?=")/);
  const definition = parts[0]!.replace(/;\s*$/, '').trim();
  const examples = parts
    .slice(1)
    .map((p) => p.trim().replace(/;\s*$/, '').replace(/^"|"$/g, '').trim())
    .filter(Boolean);
  // A gloss that is only an example (rare) has no definition to learn from.
  if (definition.startsWith('"')) return { definition: '', examples: [definition.replace(/^"|"$/g, ''), ...examples] };
  return { definition, examples };
}

/** Synsets of one data file's text. */
export function parseWordnetData(text: string, pos: WordnetPos): Synset[] {
  const out: Synset[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('  ') || line.trim() === '') continue;
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const fields = line.slice(0, bar).split(' ');
    const count = parseInt(fields[3]!, 16);
    const words: string[] = [];
    for (let i = 0; i < count; i++) words.push(fields[4 + 2 * i]!.replace(MARKER, '').replace(/_/g, ' '));
    const { definition, examples } = splitGloss(line.slice(bar + 3));
    out.push({ id: `${pos}:${fields[0]}`, pos, words, definition, examples });
  }
  return out;
}

/** All synsets of an installed WordNet (default: wordnet-base's /usr/share/wordnet). */
export function readWordnet(dir = WORDNET_SOURCE.defaultPath): Synset[] {
  const files = WORDNET_POS.map((p) => join(dir, `data.${p}`));
  requireFiles(WORDNET_SOURCE, files);
  return WORDNET_POS.flatMap((p, i) => parseWordnetData(readFileSync(files[i]!, 'latin1'), p));
}
