// RFT's exchanges with its peers, each one retried unit: push the policy + generate from exactly that
// version (staleness-bounded), and push the reward weights (when they changed) + score. A peer that
// restarted in between has lost the pushed weights and answers "min_weight_version not served"; that is
// turned into a retryable status, so the unit pushes again instead of failing the job.
import { FinishReason, type GeneratorService, type RewardModelService } from '@juice/proto';
import type { ParamSet } from '@juice/optim';
import type { TokenizedExample } from '@juice/data';
import { status, type createClient } from '@juice/service-kit';
import { namedTensors, pushNextVersion, type NamedTensors, type PushOptions, type PushTarget } from '@juice/weight-sync';
import type { RunContext } from '../job-manager.js';
import { withRetry } from './retry.js';
import type { RftSettings } from '../settings/rft.js';

const GENERATE_BATCH = 256;

/** A generator or reward-model pool (peer-pools.ts), or anything with the same calls. */
export type GeneratorClient = Pick<ReturnType<typeof createClient<typeof GeneratorService>>, 'generate'> & PushTarget;
export type RewardClient = Pick<ReturnType<typeof createClient<typeof RewardModelService>>, 'score'> & PushTarget;

export interface Sampled {
  example: TokenizedExample;
  responses: { ids: number[]; missingEos: boolean; version: bigint }[];
}

/** The named tensors of a ParamSet (views, no copy), as every push sends them. */
export const tensorsOf = (params: ParamSet, names: readonly string[]): NamedTensors => namedTensors(params, names);

/** A peer that answers "min_weight_version not served" has restarted and lost our push: retry the unit. */
function retryable(e: unknown): never {
  if ((e as { code?: number }).code === status.FAILED_PRECONDITION && /min_weight_version/.test((e as Error).message)) {
    throw Object.assign(new Error(`${(e as Error).message} (the peer lost the pushed weights; pushing again)`), { code: status.ABORTED });
  }
  throw e;
}

/**
 * Push the policy and sample from exactly that version, as one retried unit. `adapter`: a LoRA policy, pushed
 * as an adapter alone (its header fields) and sampled by its name.
 */
export async function sample(ctx: RunContext, generator: GeneratorClient, policy: ParamSet, names: readonly string[], prompts: TokenizedExample[], s: RftSettings, samplingSeed: bigint, maxLength: number, round: number, retry: Parameters<typeof withRetry>[2], adapter?: { header: PushOptions['header']; name: string }) {
  return withRetry('push the policy and generate', async () => {
    const pushed = await pushNextVersion(generator, tensorsOf(policy, names), { label: `${ctx.job.id}/round${round}`, ...(adapter ? { header: adapter.header } : {}) });
    const { version, seconds: syncSeconds } = pushed;
    ctx.emit({ case: 'weightsPushed', value: { target: 'generator', version, bytes: pushed.bytes, seconds: syncSeconds, replicas: pushed.replicas } });
    const oldest = version - BigInt(s.maxStaleness) > 0n ? version - BigInt(s.maxStaleness) : 1n;
    const g0 = Date.now();
    // Generate takes up to 1024 prompts a call; the seed differs per call so no two calls repeat a stream.
    const results: { samples: { tokenIds: number[]; finishReason: FinishReason; weightVersion: bigint }[] }[] = [];
    let servedBy = version;
    for (let i = 0; i < prompts.length; i += GENERATE_BATCH) {
      const res = await generator
        .generate({ prompts: prompts.slice(i, i + GENERATE_BATCH).map((e) => ({ kind: { case: 'tokens', value: { ids: e.promptIds } } })), n: s.samplesPerPrompt, sampling: { ...s.generation, seed: samplingSeed + BigInt(i) }, minWeightVersion: oldest, ...(adapter ? { adapter: adapter.name } : {}) })
        .catch(retryable);
      results.push(...res.results);
      servedBy = res.weightVersion?.number ?? servedBy;
    }
    let stale = 0;
    const sampled: Sampled[] = [];
    prompts.forEach((example, i) => {
      const samples = results[i]?.samples ?? [];
      // Prompt + response within max_length, as the demonstrations (the generator only bounds by context).
      const room = Math.max(0, maxLength - example.promptIds.length);
      const responses = samples.map((x) => ({ ids: x.tokenIds.slice(0, room), missingEos: x.tokenIds.length > room || x.finishReason === FinishReason.LENGTH || x.finishReason === FinishReason.CONTEXT_LENGTH, version: x.weightVersion || servedBy }));
      // A prompt's samples are kept or dropped together (RLOO's baseline needs the whole group).
      if (responses.some((r) => r.version < oldest)) stale += responses.length;
      else if (responses.length === s.samplesPerPrompt && responses.every((r) => r.ids.length > 0)) sampled.push({ example, responses });
    });
    return { sampled, version: servedBy, stale, seconds: (Date.now() - g0) / 1000, syncSeconds, syncBytes: Number(pushed.bytes) };
  }, retry);
}

/**
 * Scores from the reward-model service. `served` is the version already serving the trainer's reward
 * weights (or 0 = whatever it serves, for a frozen reward model); undefined = push them first (same unit).
 */
export async function score(ctx: RunContext, client: RewardClient, params: ParamSet, names: readonly string[], seqs: { promptIds: number[]; responseIds: number[] }[], served: bigint | undefined, round: number, retry: Parameters<typeof withRetry>[2]) {
  return withRetry('push the reward model and score', async (attempt) => {
    let version = served ?? 0n;
    let syncSeconds: number | undefined;
    if (served === undefined || (attempt > 1 && served > 0n)) {
      const pushed = await pushNextVersion(client, tensorsOf(params, names), { label: `${ctx.job.id}/round${round}` });
      version = pushed.version;
      syncSeconds = pushed.seconds;
      ctx.emit({ case: 'weightsPushed', value: { target: 'reward_model', version, bytes: pushed.bytes, seconds: syncSeconds, replicas: pushed.replicas } });
    }
    const rewards: number[] = [];
    let scoredBy = version;
    for (let i = 0; i < seqs.length; i += 1024) {
      const res = await client
        .score({ items: seqs.slice(i, i + 1024).map((x) => ({ prompt: { kind: { case: 'tokens', value: { ids: x.promptIds } } }, response: { kind: { case: 'tokens', value: { ids: x.responseIds } } } })), minWeightVersion: version })
        .catch(retryable);
      rewards.push(...res.results.map((r) => r.reward));
      scoredBy = res.weightVersion?.number ?? version;
    }
    return { rewards, version: scoredBy, syncSeconds };
  }, retry);
}
