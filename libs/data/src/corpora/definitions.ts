// Human-written demonstrations from WordNet: each synset becomes the prompt "Define the noun "X"."
// (with up to three synonyms, which say which sense is meant) and its lexicographer-written definition
// as the response. Rows are grouped by headword for the split (splits.ts); a prompt that repeats an
// earlier one (same word, part of speech and synonyms: another sense) is left out and counted, so a
// prompt has one right answer. The evaluator's multiple-choice task sets each test row's definition
// against definitions of other test words.
import { mulberry32, fmix32, seedToUint32, shuffleInPlace, type SeededRandom } from '../seeded-random.js';
import { splitOf, type SplitFractions, type SplitName } from './splits.js';
import type { Synset, WordnetPos } from './wordnet.js';

export interface DefinitionPair {
  /** The synset id ("noun:00002137"). */
  id: string;
  /** The headword, lower-cased: the split and the distractors are drawn by it. */
  group: string;
  prompt: string;
  response: string;
}

export interface DefinitionOptions {
  /** Append the gloss's first example sentence to the response. */
  includeExamples?: boolean;
  /** Synonyms named in the prompt (0 = none). */
  maxSynonyms?: number;
}

const POS_NAME: Record<WordnetPos, string> = { noun: 'noun', verb: 'verb', adj: 'adjective', adv: 'adverb' };

const sentence = (s: string) => {
  const t = s.trim();
  return t.charAt(0).toUpperCase() + t.slice(1) + (/[.!?]$/.test(t) ? '' : '.');
};

/** The demonstration of one synset, or undefined when its gloss has no definition. */
export function synsetToPair(s: Synset, o: DefinitionOptions = {}): DefinitionPair | undefined {
  if (!s.definition || s.words.length === 0) return undefined;
  const [head, ...others] = s.words;
  const synonyms = others.filter((w) => w.toLowerCase() !== head!.toLowerCase()).slice(0, o.maxSynonyms ?? 3);
  const prompt = `Define the ${POS_NAME[s.pos]} "${head}"${synonyms.length ? ` (also: ${synonyms.join(', ')})` : ''}.`;
  const example = o.includeExamples && s.examples[0] ? ` For example: "${s.examples[0]}".` : '';
  return { id: s.id, group: head!.toLowerCase(), prompt, response: sentence(s.definition) + example };
}

export interface SplitDefinitions {
  train: DefinitionPair[];
  validation: DefinitionPair[];
  test: DefinitionPair[];
  /** Synsets without a definition, and repeated prompts, left out. */
  skipped: { noDefinition: number; repeatedPrompt: number };
}

/** Demonstrations split by headword (seeded), in file order within each split. */
export function splitDefinitions(synsets: readonly Synset[], seed: number, fractions: SplitFractions, o: DefinitionOptions = {}): SplitDefinitions {
  const out: SplitDefinitions = { train: [], validation: [], test: [], skipped: { noDefinition: 0, repeatedPrompt: 0 } };
  const seen = new Set<string>();
  for (const s of synsets) {
    const pair = synsetToPair(s, o);
    if (!pair) {
      out.skipped.noDefinition++;
      continue;
    }
    if (seen.has(pair.prompt)) {
      out.skipped.repeatedPrompt++;
      continue;
    }
    seen.add(pair.prompt);
    out[splitOf(seed, pair.group, fractions)].push(pair);
  }
  return out;
}

/** Independent streams of one seed (subsampling per split, choices). */
export function corpusStream(seed: number, id: number): SeededRandom {
  return mulberry32(fmix32(seedToUint32(seed) ^ fmix32(0x85ebca6b + id)));
}

/** A seeded subsample of `limit` rows (0 = all, in a seeded order either way). */
export function sampleRows<T>(rows: readonly T[], limit: number, rng: SeededRandom): T[] {
  const copy = shuffleInPlace([...rows], rng);
  return limit > 0 ? copy.slice(0, limit) : copy;
}

export interface MultipleChoiceDoc {
  id: string;
  question: string;
  choices: string[];
  label: number;
}

/**
 * Each row's true response against `distractors` responses of other rows of the same split whose
 * headword differs (and whose text differs), in a seeded order.
 */
export function definitionChoices(rows: readonly DefinitionPair[], distractors: number, rng: SeededRandom): MultipleChoiceDoc[] {
  const groups = new Set(rows.map((r) => r.group));
  if (groups.size <= distractors) throw new RangeError(`${distractors} distractors need rows of more than ${distractors} headwords; the split has ${groups.size}`);
  return rows.map((r) => {
    const picked = new Set<string>([r.response]);
    const wrong: string[] = [];
    for (let attempts = 0; wrong.length < distractors; attempts++) {
      if (attempts > 1000 * distractors) throw new RangeError(`cannot find ${distractors} distinct distractors for ${r.id}: too few different responses in the split`);
      const other = rows[rng.int(rows.length)]!;
      if (other.group === r.group || picked.has(other.response)) continue;
      picked.add(other.response);
      wrong.push(other.response);
    }
    const choices = shuffleInPlace([r.response, ...wrong], rng);
    return { id: r.id, question: r.prompt, choices, label: choices.indexOf(r.response) };
  });
}

export function toChatRow(p: DefinitionPair): { messages: { role: string; content: string }[]; id: string } {
  return {
    messages: [
      { role: 'user', content: p.prompt },
      { role: 'assistant', content: p.response },
    ],
    id: p.id,
  };
}

export type { SplitName };
