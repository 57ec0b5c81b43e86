// A genuine (if tiny) language model for tests: a hand-written word bigram table. Log-probs,
// greedy flags and greedy/seeded generation are computed from the table, so every metric in the
// tests can be checked by hand from the probabilities written next to it.
//
// Tokens: runs of "\n" and runs of non-space characters. P(next | prev) is the table entry, the
// row's remaining mass spread evenly over the vocabulary words the row does not list; unknown
// words map to <unk>. The context's last token (or <s> for an empty context) conditions the
// first continuation token.
import type { CompareItem, CompareResult, EvalModel, GenerateItem, GenerateResult, LoglikelihoodItem, LoglikelihoodResult, RewardScorer } from '../src/index.js';
import { seededRng, sigmoid } from '../src/index.js';

export type BigramTable = Record<string, Record<string, number>>;

export function tokenize(text: string): string[] {
  return text.match(/\n+|[^\s]+/g) ?? [];
}

export class BigramModel implements EvalModel {
  readonly vocab: string[];
  readonly calls = { loglikelihood: 0, generate: 0 };
  readonly seen: { ll: LoglikelihoodItem[]; gen: GenerateItem[] } = { ll: [], gen: [] };

  constructor(
    readonly table: BigramTable,
    readonly weightVersion = 3n,
  ) {
    const v = new Set<string>(['<unk>', '</s>']);
    for (const [prev, row] of Object.entries(table)) {
      if (prev !== '<s>') v.add(prev);
      for (const k of Object.keys(row)) v.add(k);
    }
    this.vocab = [...v];
  }

  /** P(next | prev) over the vocabulary. */
  prob(prev: string, next: string): number {
    const row = this.table[prev] ?? {};
    const tok = this.vocab.includes(next) ? next : '<unk>';
    if (tok in row) return row[tok]!;
    const listed = Object.keys(row).filter((k) => this.vocab.includes(k));
    const rest = 1 - listed.reduce((s, k) => s + row[k]!, 0);
    return rest / (this.vocab.length - listed.length);
  }

  /** argmax_w P(w | prev), ties to the earlier vocabulary word. */
  greedy(prev: string): string {
    let best = this.vocab[0]!;
    for (const w of this.vocab) if (this.prob(prev, w) > this.prob(prev, best)) best = w;
    return best;
  }

  async loglikelihood(items: LoglikelihoodItem[]): Promise<LoglikelihoodResult[]> {
    this.calls.loglikelihood++;
    this.seen.ll.push(...items);
    return items.map(({ context, continuation }) => {
      let prev = tokenize(context).at(-1) ?? '<s>';
      let logprob = 0;
      let isGreedy = true;
      const toks = tokenize(continuation);
      for (const t of toks) {
        logprob += Math.log(this.prob(prev, t));
        if (this.greedy(prev) !== (this.vocab.includes(t) ? t : '<unk>')) isGreedy = false;
        prev = t;
      }
      return { logprob, isGreedy, numTokens: toks.length };
    });
  }

  async generate(items: GenerateItem[]): Promise<GenerateResult[]> {
    this.calls.generate++;
    this.seen.gen.push(...items);
    return items.map((item, i) => {
      const temperature = item.sampling.temperature ?? 1;
      const rng = seededRng('bigram', item.sampling.seed ?? 0n, i);
      const maxNew = item.sampling.maxNewTokens || 256;
      let prev = tokenize(item.context).at(-1) ?? '<s>';
      let text = '';
      for (let n = 0; n < maxNew; n++) {
        const next = temperature === 0 ? this.greedy(prev) : this.sample(prev, rng());
        if (next === '</s>') break;
        // Words follow a space (" 4" after "2+2="), except after a newline; newlines stand alone.
        text += next.startsWith('\n') || text.endsWith('\n') ? next : ' ' + next;
        const stop = item.until.map((s) => text.indexOf(s)).filter((j) => j >= 0);
        if (stop.length > 0) {
          text = text.slice(0, Math.min(...stop));
          break;
        }
        prev = next;
      }
      return { text, weightVersion: this.weightVersion };
    });
  }

  private sample(prev: string, u: number): string {
    let acc = 0;
    for (const w of this.vocab) {
      acc += this.prob(prev, w);
      if (u < acc) return w;
    }
    return this.vocab.at(-1)!;
  }

  async info() {
    return { name: 'bigram-test', weightVersion: this.weightVersion };
  }
}

/** A reward model that likes longer answers: r = 0.5 per word; P(a ≻ b) = σ(r_a − r_b). */
export class LengthReward implements RewardScorer {
  readonly seen: CompareItem[] = [];
  async compare(items: CompareItem[]): Promise<CompareResult[]> {
    this.seen.push(...items);
    return items.map(({ a, b }) => {
      const rewardA = 0.5 * tokenize(a).length;
      const rewardB = 0.5 * tokenize(b).length;
      return { probAPreferred: sigmoid(rewardA - rewardB), rewardA, rewardB };
    });
  }
}
