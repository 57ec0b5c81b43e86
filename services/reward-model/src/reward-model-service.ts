// The RewardModel contract: scores and pairwise preferences of (prompt, response) pairs, model info,
// and weight pushes (validated in full; the old version keeps serving until the new one is complete).
import type { RewardModelService } from '@juice/proto';
import { validateCompare, validateScore, WeightDeltaMode } from '@juice/proto';
import { encodePromptResponse } from '@juice/models';
import { failedPrecondition, rejectInvalid, type ServiceImpl } from '@juice/service-kit';
import { StatusError } from '@juice/proto/status-error';
import { acceptWeightPush, peekFirstChunk } from '@juice/weight-sync';
import { pushRewardAdapter } from './adapter-push.js';
import type { RewardHost } from './reward-host.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

export function createRewardModelService(host: RewardHost): Partial<ServiceImpl<typeof RewardModelService>> {
  const info = host.info();
  const limits = { vocabSize: info.vocabSize, contextLength: info.contextLength, hasChatTemplate: info.tokenizer?.hasChatTemplate };
  const L = info.contextLength;
  /** Keeps the last L tokens (the response end matters most for a reward read at the last token). */
  const fit = (ids: number[]) => ({ ids: ids.length > L ? ids.slice(ids.length - L) : ids, dropped: Math.max(0, ids.length - L) });
  const versionOf = (n: bigint) => ({ number: n, label: host.weights.weightsOf(n) && host.weights.active.number === n ? host.weights.active.label : '' });
  const checkVersion = (min: bigint) => {
    if (min > host.weights.active.number) throw failedPrecondition(`min_weight_version ${min} is not served yet (serving ${host.weights.active.number})`);
  };

  return {
    async score(req, ctx) {
      rejectInvalid(validateScore(req, limits));
      checkVersion(req.minWeightVersion);
      const seqs = req.items.map((it, i) => fit(encodePromptResponse(host.model.tokenizer, it.prompt!, it.response!, `items[${i}]`)));
      const scored = await host.score(seqs.map((s) => s.ids));
      const rewards = scored.map((x) => x.reward);
      const version = versionOf(scored[0]!.version);
      ctx.span.setAttributes({ 'juice.items': seqs.length, 'juice.tokens': seqs.reduce((a, s) => a + s.ids.length, 0) });
      return {
        results: rewards.map((reward, i) => ({ reward, numTokens: seqs[i]!.ids.length, truncatedPromptTokens: seqs[i]!.dropped })),
        weightVersion: version,
        usage: { promptTokens: BigInt(seqs.reduce((a, s) => a + s.ids.length, 0)) },
      };
    },
    async compare(req) {
      rejectInvalid(validateCompare(req, limits));
      checkVersion(req.minWeightVersion);
      const seqs = req.pairs.flatMap((p, i) => [
        fit(encodePromptResponse(host.model.tokenizer, p.prompt!, p.responseA!, `pairs[${i}]`)).ids,
        fit(encodePromptResponse(host.model.tokenizer, p.prompt!, p.responseB!, `pairs[${i}]`)).ids,
      ]);
      const scored = await host.score(seqs);
      const r = scored.map((x) => x.reward);
      const version = versionOf(scored[0]!.version);
      return {
        results: req.pairs.map((_, i) => ({ rewardA: r[2 * i]!, rewardB: r[2 * i + 1]!, probAPreferred: sigmoid(r[2 * i]! - r[2 * i + 1]!) })),
        weightVersion: version,
        usage: { promptTokens: BigInt(seqs.reduce((a, s) => a + s.length, 0)) },
      };
    },
    async getModelInfo() {
      return { model: { ...host.info(), weightVersion: host.version() } };
    },
    async getWeightVersion() {
      const staged = host.weights.staged;
      return { active: host.version(), staged: staged ? { number: staged.number, label: staged.label } : undefined };
    },
    async pushWeights(chunks, ctx) {
      const { first, all } = await peekFirstChunk(chunks);
      const h = first?.header;
      if (h?.loraAdapterOnly) return pushRewardAdapter(host, first!, all, ctx.signal);
      // A delta changes named tensors of a version; on an adapter version it would leave the adapter's
      // head without its adapter, so deltas apply to base versions only.
      const delta = h && (h.deltaMode === WeightDeltaMode.REPLACE || h.deltaMode === WeightDeltaMode.ADD);
      const base = delta ? host.weights.weightsOf(h.baseVersion) : undefined;
      if (base && host.adapterOf.has(base)) throw new StatusError('FAILED_PRECONDITION', `header.base_version ${h!.baseVersion} serves a LoRA adapter; send a FULL push (the whole reward model) or an adapter push (lora_adapter_only)`, { retryable: false });
      return acceptWeightPush(host.weights, all, { expected: host.shapes, signal: ctx.signal, serve: (version, weights) => host.serve(weights, version) });
    },
    async activateWeights(req) {
      const { active, previous } = host.weights.activate(req.version);
      await host.serve(active.weights, active.number);
      return { active: { number: active.number, label: active.label }, previous: { number: previous.number, label: previous.label } };
    },
  };
}
