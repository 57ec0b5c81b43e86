// Deterministic synthetic train / held-out data for the embedded default model. Same options, same
// output, on any machine: every draw comes from mulberry32 streams derived from the seed. The
// held-out problems are drawn first and training rejects any problem whose question is among them,
// so held-out scores measure generalisation, not memorisation.
import { fmix32, mulberry32, seedToUint32, shuffleInPlace } from '../seeded-random.js';
import { distractorResponses, SKILL_IMPLEMENTATIONS, SKILLS, type SkillName, type SyntheticProblem } from './skills.js';

export interface SyntheticOptions {
  seed: number;
  trainSize: number;
  evalSize: number;
  /** Default: all skills, interleaved round robin. */
  skills?: readonly SkillName[];
}

/** A held-out problem as a log-likelihood multiple-choice document. */
export interface MultipleChoiceRow {
  skill: SkillName;
  question: string;
  /** Four full responses differing only in the answer. */
  choices: string[];
  /** 0-based index of the correct choice. */
  label: number;
}

/** A held-out problem as a generate-and-match document. */
export interface GenerateRow {
  skill: SkillName;
  question: string;
  answer: string;
}

export interface SyntheticTasks {
  train: SyntheticProblem[];
  heldout: SyntheticProblem[];
  multipleChoice: MultipleChoiceRow[];
  generate: GenerateRow[];
  /** Texts for training the default tokenizer (training problems only, so held-out text stays unseen). */
  tokenizerCorpus: string[];
}

/** Independent PRNG streams from one seed (held-out, train, choice order). */
function stream(seed: number, id: number) {
  return mulberry32(fmix32(seedToUint32(seed) ^ fmix32(0x9e3779b9 + id)));
}

const keyOf = (p: SyntheticProblem) => `${p.skill}\u0000${p.question}`;

function drawProblems(count: number, skills: readonly SkillName[], rng: ReturnType<typeof mulberry32>, accept: (p: SyntheticProblem) => boolean): SyntheticProblem[] {
  const out: SyntheticProblem[] = [];
  for (let i = 0; i < count; i++) {
    const skill = skills[i % skills.length]!;
    let attempts = 0;
    for (;;) {
      const p = SKILL_IMPLEMENTATIONS[skill].generate(rng);
      if (accept(p)) {
        out.push(p);
        break;
      }
      if (++attempts > 10_000) throw new RangeError(`cannot draw ${count} synthetic problems: the ${skill} skill ran out of distinct questions; lower the sizes`);
    }
  }
  return out;
}

export function makeSyntheticTasks(o: SyntheticOptions): SyntheticTasks {
  const skills = o.skills ?? SKILLS;
  if (skills.length === 0) throw new RangeError('at least one skill is needed');
  for (const [name, v] of [['trainSize', o.trainSize], ['evalSize', o.evalSize]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
  const heldoutKeys = new Set<string>();
  const heldout = drawProblems(o.evalSize, skills, stream(o.seed, 1), (p) => {
    if (heldoutKeys.has(keyOf(p))) return false; // distinct held-out documents
    heldoutKeys.add(keyOf(p));
    return true;
  });
  const train = drawProblems(o.trainSize, skills, stream(o.seed, 2), (p) => !heldoutKeys.has(keyOf(p)));

  const choiceRng = stream(o.seed, 3);
  const multipleChoice = heldout.map((p): MultipleChoiceRow => {
    const choices = shuffleInPlace([p.response, ...distractorResponses(p, choiceRng)], choiceRng);
    return { skill: p.skill, question: p.question, choices, label: choices.indexOf(p.response) };
  });
  const generate = heldout.map((p): GenerateRow => ({ skill: p.skill, question: p.question, answer: p.answer }));
  const tokenizerCorpus = train.flatMap((p) => [p.question, p.response]);
  return { train, heldout, multipleChoice, generate, tokenizerCorpus };
}

/** The problem as a CHAT-schema row: {messages: [user, assistant], skill}. */
export function toChatRow(p: SyntheticProblem): { messages: { role: string; content: string }[]; skill: SkillName } {
  return {
    messages: [
      { role: 'user', content: p.question },
      { role: 'assistant', content: p.response },
    ],
    skill: p.skill,
  };
}
