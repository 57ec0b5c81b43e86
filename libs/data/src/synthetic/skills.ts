// The skills of the synthetic demonstrations the embedded default model trains on. Each has an exact,
// checkable answer (so SFT vs IRFT vs RFT can be compared by exact match, not by judgement), fits
// well inside a 128-token context, and is learnable by a ~1-5M-parameter model in minutes. Letters
// are spaced ("c a t") so a small BPE vocabulary keeps one token per letter and reversing or
// counting is a per-token operation. Every response ends in "=<answer>", which one answer regex
// extracts for all skills.
import { shuffleInPlace, type SeededRandom } from '../seeded-random.js';

export type SkillName = 'add' | 'reverse' | 'sort' | 'count' | 'sub';
// Round-robin order of generation; new skills go last so earlier draws stay as they were.
export const SKILLS: readonly SkillName[] = ['add', 'reverse', 'sort', 'count', 'sub'];

export interface SyntheticProblem {
  skill: SkillName;
  /** The user turn. */
  question: string;
  /** The assistant turn: a short worked form ending in "=<answer>". */
  response: string;
  /** The exact answer (what the answer regex extracts from a correct response). */
  answer: string;
}

/** Extracts the answer from a response of any skill: the text after the last "=". */
export const ANSWER_REGEX = '=\\s*([^=\\n]+?)\\s*$';

interface Skill {
  generate(rng: SeededRandom): SyntheticProblem;
  /** Wrong answers close to the right one (for multiple choice); may contain duplicates. */
  nearMisses(p: SyntheticProblem, rng: SeededRandom): string[];
  /** The full response for a (possibly wrong) answer, so choices differ only in the answer. */
  respond(p: SyntheticProblem, answer: string): string;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const spaced = (s: string) => s.split('').join(' ');
const unspaced = (s: string) => s.replace(/ /g, '');
const randomWord = (rng: SeededRandom, min: number, max: number, alphabet = LETTERS) => Array.from({ length: rng.range(min, max) }, () => rng.pick([...alphabet])).join('');

function swapAt(s: string, i: number): string {
  const a = s.split('');
  [a[i], a[i + 1]] = [a[i + 1]!, a[i]!];
  return a.join('');
}

const add: Skill = {
  generate(rng) {
    const a = rng.range(10, 99);
    const b = rng.range(10, 99);
    const sum = String(a + b);
    return { skill: 'add', question: `What is ${a}+${b}?`, response: `${a}+${b}=${sum}`, answer: sum };
  },
  nearMisses(p) {
    const s = Number(p.answer);
    const swapped = p.answer.length > 1 ? Number(swapAt(p.answer, p.answer.length - 2)) : s;
    return [s + 1, s - 1, s + 10, s - 10, swapped, s + 2, s - 2, s + 11].filter((x) => x >= 0).map(String);
  },
  respond: (p, answer) => p.response.replace(/=.*$/, `=${answer}`),
};

/** Differences of 2-digit numbers, never negative (a leading "-" would be one more thing to learn). */
const sub: Skill = {
  generate(rng) {
    let a = rng.range(10, 99);
    let b = rng.range(10, 99);
    if (a < b) [a, b] = [b, a];
    const diff = String(a - b);
    return { skill: 'sub', question: `What is ${a}-${b}?`, response: `${a}-${b}=${diff}`, answer: diff };
  },
  nearMisses: (p, rng) => add.nearMisses(p, rng),
  respond: (p, answer) => p.response.replace(/=.*$/, `=${answer}`),
};

const reverse: Skill = {
  generate(rng) {
    let w: string;
    do w = randomWord(rng, 3, 6);
    while (w === [...w].reverse().join('')); // a palindrome's "unreversed" distractor would be right
    const r = [...w].reverse().join('');
    return { skill: 'reverse', question: `Reverse the letters: ${spaced(w)}`, response: `${spaced(w)} reversed=${spaced(r)}`, answer: spaced(r) };
  },
  nearMisses(p, rng) {
    const r = unspaced(p.answer);
    const w = [...r].reverse().join('');
    const i = rng.int(r.length - 1);
    const j = rng.int(r.length);
    const changed = r.slice(0, j) + LETTERS[(LETTERS.indexOf(r[j]!) + 1) % 26] + r.slice(j + 1);
    return [w, swapAt(r, i), changed, r.slice(1) + r[0], r.slice(-1) + r.slice(0, -1)].map(spaced);
  },
  respond: (p, answer) => p.response.replace(/=.*$/, `=${answer}`),
};

const sort: Skill = {
  generate(rng) {
    let digits: number[];
    do digits = Array.from({ length: rng.range(3, 5) }, () => rng.int(10));
    while (new Set(digits).size < 2 || digits.every((d, i) => i === 0 || digits[i - 1]! <= d)); // unsorted, >= 2 distinct
    const sorted = [...digits].sort((x, y) => x - y);
    const q = digits.join(' ');
    return { skill: 'sort', question: `Sort the digits: ${q}`, response: `${q} sorted=${sorted.join(' ')}`, answer: sorted.join(' ') };
  },
  nearMisses(p, rng) {
    const sorted = unspaced(p.answer);
    const input = unspaced(p.question.replace(/^.*: /, ''));
    const i = rng.int(sorted.length - 1);
    const j = rng.int(sorted.length);
    const bump = (k: number) => sorted.slice(0, k) + String((Number(sorted[k]) + 1) % 10) + sorted.slice(k + 1);
    return [[...sorted].reverse().join(''), swapAt(sorted, i), input, bump(j), bump((j + 1) % sorted.length)].map(spaced);
  },
  respond: (p, answer) => p.response.replace(/=.*$/, `=${answer}`),
};

const count: Skill = {
  generate(rng) {
    // A small alphabet makes repeated letters common, so counts range over 0..5 rather than mostly 1.
    const w = randomWord(rng, 4, 8, 'abcdeinorst');
    const letter = rng.next() < 0.8 ? rng.pick([...w]) : rng.pick([...'abcdeinorst']);
    const n = [...w].filter((c) => c === letter).length;
    return { skill: 'count', question: `How many ${letter} in: ${spaced(w)}`, response: `count of ${letter}=${n}`, answer: String(n) };
  },
  nearMisses(p) {
    const n = Number(p.answer);
    return [n + 1, n - 1, n + 2, n - 2, n + 3].filter((x) => x >= 0).map(String);
  },
  respond: (p, answer) => p.response.replace(/=.*$/, `=${answer}`),
};

export const SKILL_IMPLEMENTATIONS: Readonly<Record<SkillName, Skill>> = { add, reverse, sort, count, sub };

/** Three distinct wrong full responses close to the right one. */
export function distractorResponses(p: SyntheticProblem, rng: SeededRandom): string[] {
  const skill = SKILL_IMPLEMENTATIONS[p.skill];
  const out: string[] = [];
  // Shuffled so which near misses appear varies (e.g. not always ±1 and +10 for addition).
  for (const a of shuffleInPlace(skill.nearMisses(p, rng), rng)) {
    const r = skill.respond(p, a);
    if (a !== p.answer && r !== p.response && !out.includes(r)) out.push(r);
    if (out.length === 3) return out;
  }
  throw new Error(`synthetic ${p.skill} problem ${JSON.stringify(p.question)} has fewer than 3 distinct near misses`);
}
