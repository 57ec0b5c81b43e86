// In-loop evaluation on JobSpec.eval_datasets with a forward-only session (EvalStep: fetching only a
// loss from a train graph would still run the backward, ENGINE-FACTS). Metrics:
//   demonstrations (SFT, IRFT, SPIN): eval/nll = −Σ log π(y*|x) / Σ response tokens, over the whole set
//     (token-weighted across batches, so it does not depend on the eval batch size); eval/loss = eval/nll.
//   preference pairs (DPO): eval/loss = mean pairwise loss against the frozen reference, plus
//     eval/reward_accuracy and eval/reward_margin (implicit rewards β·log-ratio).
import { EvalStep, type PairExample, type PairLossKind } from '@juice/algorithms';
import { collateBatch, collatePairBatch, IGNORE_INDEX, type TokenBatch, type TokenizedExample } from '@juice/data';
import { buildCausalLm, type ModelConfig } from '@juice/models';
import type { ParamSet } from '@juice/optim';
import { badSpec } from './job-error.js';

export interface HeldOutEvaluator {
  evaluate(params: ParamSet): Promise<Record<string, number>>;
  release(): Promise<void>;
}

const feedsOf = (b: TokenBatch) => ({
  input_ids: { data: b.inputIds, dims: [b.batchSize, b.seqLen] },
  attention_mask: { data: b.attentionMask, dims: [b.batchSize, b.seqLen] },
  labels: { data: b.labels, dims: [b.batchSize, b.seqLen] },
});

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

export async function demonstrationEvaluator(o: { config: ModelConfig; params: ParamSet; examples: readonly TokenizedExample[]; padTokenId: number; batchSize: number }): Promise<HeldOutEvaluator> {
  if (o.examples.length === 0) throw badSpec('spec.eval_datasets', 'no demonstrations selected');
  const step = await EvalStep.create(buildCausalLm(o.config).graph, o.params, ['seq_logprobs']);
  const batches = chunks(o.examples, o.batchSize).map((rows) => collateBatch(rows, { padTokenId: o.padTokenId }));
  return {
    async evaluate(params) {
      let logp = 0;
      let tokens = 0;
      for (const b of batches) {
        const out = await step.run(feedsOf(b), params);
        for (const x of out.seq_logprobs!.data as Float32Array) logp += x;
        for (const l of b.labels) if (l !== BigInt(IGNORE_INDEX)) tokens++;
        await new Promise<void>((r) => setImmediate(r));
      }
      const nll = -logp / Math.max(1, tokens);
      return { 'eval/nll': nll, 'eval/loss': nll };
    },
    release: () => step.release(),
  };
}

function pairLoss(u: number, kind: PairLossKind): number {
  if (kind === 'hinge') return Math.max(0, 1 - u);
  if (kind === 'linear') return -u;
  // −log σ(u) = softplus(−u), written to stay finite for large |u|.
  return u > 0 ? Math.log1p(Math.exp(-u)) : -u + Math.log1p(Math.exp(u));
}

export async function pairEvaluator(o: { config: ModelConfig; params: ParamSet; reference: ParamSet; pairs: readonly PairExample[]; beta: number; loss: PairLossKind; padTokenId: number; batchSize: number }): Promise<HeldOutEvaluator> {
  if (o.pairs.length === 0) throw badSpec('spec.eval_datasets', 'no preference pairs selected');
  const step = await EvalStep.create(buildCausalLm(o.config).graph, o.params, ['seq_logprobs']);
  const batches = chunks(o.pairs, o.batchSize).map((rows) => collatePairBatch(rows.map((r) => r.chosen), rows.map((r) => r.rejected), { padTokenId: o.padTokenId }));
  const logps = async (w: ParamSet) => {
    const all: Float32Array[] = [];
    for (const b of batches) {
      all.push((await step.run(feedsOf(b), w)).seq_logprobs!.data as Float32Array);
      await new Promise<void>((r) => setImmediate(r));
    }
    return all;
  };
  // The reference is frozen for the whole job (DPO): its log-probs are computed once.
  let ref: Float32Array[] | undefined;
  return {
    async evaluate(params) {
      ref ??= await logps(o.reference);
      const pol = await logps(params);
      let loss = 0;
      let wins = 0;
      let margin = 0;
      pol.forEach((lp, bi) => {
        const lr = ref![bi]!;
        const n = lp.length / 2;
        for (let i = 0; i < n; i++) {
          const u = o.beta * (lp[i]! - lr[i]! - (lp[i + n]! - lr[i + n]!));
          loss += pairLoss(u, o.loss);
          margin += u;
          if (u > 0) wins++;
        }
      });
      const n = o.pairs.length;
      return { 'eval/loss': loss / n, 'eval/reward_accuracy': wins / n, 'eval/reward_margin': margin / n };
    },
    release: () => step.release(),
  };
}
