// The RFT job (ALGORITHMS.md, "RFT — explicit reward model"). Each round:
//   1. push the policy to the generator (a new version) and sample k responses for a slice of the
//      demonstration prompts from exactly that version (samples older than max_staleness are dropped);
//   2. reward step: Bradley-Terry of demonstration ≻ own sample on the trainer-held reward weights,
//      then push them to the reward-model service (its own version counter);
//   3. policy step: the reward-model service scores the round's samples (token ids, at least the version
//      just pushed), rewards are normalised and penalised, and the policy-gradient method updates the
//      policy against π_ref (the job's initial policy, frozen).
// Each peer exchange is one retried unit (rft-peers.ts: push + generate, push + score), because a restarted peer has
// lost the weights pushed before. At the end the policy is pushed once more (the generator serves the
// result), saved as the job's checkpoint, and the reward model is saved as a *ForSequenceClassification
// directory under the "<job id>.reward-model" namespace of the store (its path is in the job's log).
// Every round ends in a checkpoint (policy weights + trainer state: the policy with its value head, the
// reward weights, both optimizers, reward moments, KL coefficient, REINFORCE baseline), so a resumed
// job continues at the next round. Inside a round, a checkpoint (CheckpointConfig.every_n_steps during
// the policy updates, or a stop at any point after sampling) also holds what the round already has
// (rft-round.ts: its samples, the reward step's progress, the scored rewards, the prepared advantages and
// the updates' position within policy_epochs), so a resumed job continues the round without sampling it
// again. The generator may have restarted meanwhile: every generate is preceded by a push of the current
// policy (rft-peers.ts), so nothing is sampled from weights the generator kept or lost.
import { create } from '@bufbuild/protobuf';
import { AdaptiveKlController, initValueHead, PolicyTrainer, policyParameterShapes, RewardModelTrainer, RewardNormalizer, RunningMoments, type PairExample, type Rollout } from '@juice/algorithms';
import { epochOrder, requestModelDir, tokenizeDemonstration, type TokenizedExample } from '@juice/data';
import type { LoadedModel } from '@juice/models';
import { createSchedule, ParamSet } from '@juice/optim';
import { JobProgressSchema, type ModelSource } from '@juice/proto';
import { pushNextVersion } from '@juice/weight-sync';
import type { JobRunner } from '../job-manager.js';
import { prepareJob } from '../pipeline/prepare.js';
import { scheduleSettings } from '../settings/common.js';
import { rftSettings } from '../settings/rft.js';
import { demonstrationEvaluator } from './held-out-eval.js';
import { badSpec, lostState, unmet } from './job-error.js';
import { jobLog } from './job-log.js';
import { generatorPeer, rewardPeer, roleEndpoints } from './peer-pools.js';
import { periodicPush } from './weight-pushes.js';
import { resolveWeightSync } from '../settings/weight-sync.js';
import { withRetry } from './retry.js';
import type { JobPoint } from './job-points.js';
import { sample, score, tensorsOf } from './rft-peers.js';
import { addMetrics, meansOf, roundOf, roundSamples, type LoopProgress, type RoundInProgress, type RoundRollout } from './rft-round.js';
import { loadRewardParams, rewardParamsFromLm, saveRewardModel } from './reward-weights.js';
import { demonstrationRows } from './sft-runner.js';
import { restoreBuffer } from './trainer-state.js';
import { checkServedBase } from './lora-job.js';

const LOGGER = 'trainer.rft';

/** What RFT adds to the trainer state (TrainerState.extra). */
interface RftResumeState {
  rewardMoments: { count: number; mean: number; m2: number };
  klCoef: number;
  baseline: { count: number; mean: number; m2: number };
  /** The last completed round. */
  round: number;
  /** Set at a checkpoint inside a round: that round (its progress is in stage_samples.json, rft-round.ts). */
  inRound?: number;
}


export function rftRunner(defaults: { generator?: string | readonly string[]; rewardModel?: string | readonly string[] } = {}): JobRunner {
  return async (ctx) => {
    const spec = ctx.job.spec!;
    const h = spec.hyperparameters;
    const rc = spec.algorithmConfig.case === 'rft' ? spec.algorithmConfig.value : undefined;
    // Each role is a pool: every address is one replica (issue #13).
    const genAddress = roleEndpoints(spec.endpoints?.generator, defaults.generator);
    const rmAddress = roleEndpoints(spec.endpoints?.rewardModel, defaults.rewardModel);
    if (!genAddress.length) throw unmet('RFT needs a generator: set spec.endpoints.generator or start the trainer with --generator');
    if (!rmAddress.length) throw unmet('RFT needs a reward-model service: set spec.endpoints.reward_model or start the trainer with --reward-model');
    // The checkpoint's weights are the policy's LM part; the round state is restored from its buffers below.
    const job = await prepareJob(ctx, { algorithm: 'RFT', ...demonstrationRows, empty: 'no demonstrations selected', restoreWeights: false });
    const { model, seed, padTokenId, store, limits, lora } = job;
    const maxLength = limits.maxLength;
    const examples = job.rows.map((d) => tokenizeDemonstration(model.tokenizer, d, limits));
    const s = rftSettings(spec, { rows: examples.length, numLayers: model.config.numLayers, maxNewTokens: Math.min(256, maxLength - Math.max(...examples.map((e) => e.promptIds.length))) });

    // The policy (with a value head for APA/PPO), π_ref = the initial policy, and the reward weights.
    // LoRA: the policy's trained part is the adapters (PEFT init or the checkpoint's) on the frozen base.
    const lm = lora?.adapters ?? model.params;
    const policy = new ParamSet(policyParameterShapes(model.config, s.method, lora?.spec));
    for (const e of lm.entries) policy.set(e.name, lm.view(e.name));
    if (policy.has('v_head.weight')) initValueHead(policy, seed + 1);
    // LoRA: the base never trains, so it is π_ref itself (no copy).
    const reference = lora ? model.params : model.params.clone();
    const rewardParams = initialReward(rc?.rewardModel, model, seed);
    const lmNames = lm.names;
    // What a push of the policy carries: the LM's weights, or under LoRA the adapter alone, served by name.
    const adapterPush = lora && { header: lora.pushHeader, name: lora.adapterName };
    const rmNames = rewardParams.names;

    const policySteps = s.policyEpochs * Math.ceil((s.promptsPerRound * s.samplesPerPrompt) / (s.batchSize * s.gradientAccumulationSteps));
    // The policy's LR schedule spans the job's planned policy updates.
    const plannedUpdates = s.rounds * policySteps;
    const { schedule: kind, warmupSteps, minLrRatio } = scheduleSettings(h, plannedUpdates);
    const lrSchedule = createSchedule({ kind, baseLr: s.learningRate, warmupSteps, minLrRatio, totalSteps: plannedUpdates });
    const point = job.restored;
    // Only checkpoints from round 0 on carry the round state; one from before round 0 (EvalConfig.at_start)
    // holds the initial weights, so the job simply starts over from them.
    const restored = point?.buffers.policy ? point : undefined;
    const saved = restored?.state.extra as RftResumeState | undefined;
    // A checkpoint inside a round: that round continues from what it already has (no second sampling).
    const resumedRound = saved?.inRound !== undefined ? roundOf(restored!.stageSamples, examples, `checkpoint v${restored!.checkpoint.version}`) : undefined;
    const firstRound = restored ? (saved?.inRound ?? restored.state.stage + 1) : 0;
    if (restored) {
      // The checkpoint's weights are the policy's LM part; the buffers hold what the next round needs.
      if (!restoreBuffer(policy, restored, 'policy') || !restoreBuffer(rewardParams, restored, 'reward')) {
        throw lostState(`checkpoint v${restored.checkpoint.version} holds no RFT reward buffer`);
      }
      for (const n of lmNames) lm.set(n, policy.view(n));
    }
    let step = restored?.state.step ?? 0;
    ctx.job.progress = create(JobProgressSchema, { totalSteps: BigInt(s.rounds * policySteps), totalStages: s.rounds, step: BigInt(step), stage: firstRound });
    ctx.save();
    const where = resumedRound ? `, continuing inside round ${firstRound} (${resumedRound.progress.policy ? `policy update ${resumedRound.progress.policy.step}` : `reward update ${resumedRound.progress.reward?.step ?? 0}`}; its samples kept)` : restored ? `, continuing at round ${firstRound}` : '';
    jobLog(ctx, 'info', LOGGER, `RFT: ${s.rounds} rounds of ${s.promptsPerRound} prompts × ${s.samplesPerPrompt} samples, method ${s.method}${s.reward.frozen ? ', reward model frozen' : ''}${where}`);

    const deadline = (spec.endpoints?.callTimeoutSeconds || 600) * 1000;
    // Both roles' pushes follow spec.weight_sync; every_n_steps adds policy pushes between rounds' own.
    const sync = resolveWeightSync(spec);
    const generator = await generatorPeer(ctx, genAddress, LOGGER, deadline, sync.push);
    const periodic = periodicPush(ctx, generator, sync.everyNSteps, () => tensorsOf(policy, lmNames), LOGGER, adapterPush ? adapterPush.header : undefined);
    const rewardClient = await rewardPeer(ctx, rmAddress, LOGGER, deadline, sync.push).catch((e: unknown) => {
      generator.close();
      throw e;
    });
    // 12 attempts ≈ a minute of back-off (capped at 10 s): a restarting peer on a busy node needs that long.
    const retry = { attempts: 12, signal: ctx.signal, onRetry: (i: { what: string; attempt: number; delayMs: number; error: Error }) => jobLog(ctx, 'warn', LOGGER, `${i.what} failed (${i.error.message}); retry ${i.attempt} in ${i.delayMs} ms`) };
    const policyTrainer = await PolicyTrainer.create({
      config: model.config, params: policy, reference, lora: lora?.training, method: s.method, padTokenId, learningRate: s.learningRate,
      maxGradNorm: s.maxGradNorm, optimizer: s.optimizerSettings,
      apaLambda: s.apaLambda, ppoClip: s.ppoClip, valueLossCoefficient: s.valueLossCoefficient, valueClip: s.valueClip,
    });
    const rewardTrainer = s.reward.frozen ? undefined : await RewardModelTrainer.create({ config: model.config, params: rewardParams, padTokenId, learningRate: s.reward.learningRate, frozenLayers: s.reward.frozenLayers, maxGradNorm: s.maxGradNorm });
    const normalizer = new RewardNormalizer(s.normalization, s.rewardClip, saved ? RunningMoments.restore(saved.rewardMoments) : undefined);
    const kl = s.adaptiveKl ? new AdaptiveKlController(saved?.klCoef ?? s.klCoef, s.adaptiveKl.target, s.adaptiveKl.horizon) : undefined;
    if (saved) policyTrainer.baseline = RunningMoments.restore(saved.baseline);
    if (restored?.optimizers.policy) policyTrainer.optimizer.loadState(restored.optimizers.policy);
    if (restored?.optimizers.reward && rewardTrainer) rewardTrainer.optimizer.loadState(restored.optimizers.reward);
    const evaluator = job.evalRows.length ? await demonstrationEvaluator({ config: model.config, params: model.params, examples: job.evalRows.map((d) => tokenizeDemonstration(model.tokenizer, d, limits)), padTokenId, batchSize: s.batchSize }) : undefined;
    const points = job.points(evaluator, { shuffle: true });
    // With a frozen reward model the service keeps what it serves, unless the job names one to push.
    // (After a resume the trainer's reward weights are pushed again: the service may have restarted.)
    let rmVersion: bigint | undefined = s.reward.frozen && !rc?.rewardModel ? 0n : undefined;
    const maxSteps = s.maxSteps;
    const orders = new Map<number, Uint32Array>();
    const orderOf = (epoch: number) => orders.get(epoch) ?? orders.set(epoch, epochOrder(examples.length, seed, epoch, !s.noShuffle)).get(epoch)!;
    const skipOnStop = () => ctx.skipCheckpointOnStop?.() ?? false;
    try {
      if (lora) await checkServedBase(generator.pool, model);
      if (!point) await points.atStart({ step: 0, epoch: 0, stage: 0, stageStep: 0, cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed }, optimizers: () => ({}) });
      for (let round = firstRound; round < s.rounds; round++) {
        const resumed = round === firstRound ? resumedRound : undefined;
        // A round already under way runs to its end, as it would have without the interruption.
        if (!resumed && maxSteps > 0 && step >= maxSteps) {
          jobLog(ctx, 'info', LOGGER, `max_steps ${maxSteps} reached after round ${round - 1}`, { step });
          break;
        }
        ctx.signal.throwIfAborted();
        // Round r takes the next prompts_per_round rows of a seeded per-epoch order (no_shuffle: file order).
        const promptIndex = Array.from({ length: s.promptsPerRound }, (_, i) => {
          const g = round * s.promptsPerRound + i;
          return orderOf(Math.floor(g / examples.length))[g % examples.length]!;
        });
        const indexOfPrompt = new Map<TokenizedExample, number>(promptIndex.map((i) => [examples[i]!, i]));
        const progress: RoundInProgress = resumed?.progress ?? { round, stepBefore: step, metrics: {} };
        const metrics = progress.metrics;
        const before = progress.stepBefore;
        let rollouts: RoundRollout[];
        let genVersion: bigint;
        if (resumed) {
          rollouts = resumed.rollouts;
          genVersion = resumed.weightVersion;
        } else {
          // 1. Rollouts from the policy as it is now.
          // Seeded per round unless the job set a seed: the round's samples are reproducible for that version.
          const samplingSeed = s.generation.seed ?? BigInt(seed) * 1_000_003n + BigInt(round);
          const prompts = promptIndex.map((i) => examples[i]!);
          const gen = await sample(ctx, generator, policy, lmNames, prompts, s, samplingSeed, maxLength, round, retry, adapterPush);
          Object.assign(metrics, { 'gen/seed': Number(samplingSeed % 2n ** 53n), 'gen/seconds': gen.seconds, 'gen/weight_version': Number(gen.version), 'sync/seconds': gen.syncSeconds, 'sync/bytes': gen.syncBytes, 'gen/stale_rejected': gen.stale });
          rollouts = gen.sampled.flatMap((p) => p.responses.map((r) => ({ example: p.example, ...r })));
          genVersion = gen.version;
          metrics['gen/mean_length'] = rollouts.reduce((a, r) => a + r.ids.length, 0) / Math.max(1, rollouts.length);
          if (rollouts.length === 0) {
            jobLog(ctx, 'warn', LOGGER, `round ${round}: no usable samples (all stale or empty); skipping the round`);
            continue;
          }
        }
        // A checkpoint inside this round: the live weights, optimizers and statistics plus the round's progress.
        const inRound = (): JobPoint => {
          for (const n of lmNames) lm.set(n, policy.view(n));
          const state: RftResumeState = { rewardMoments: normalizer.moments.state(), klCoef: kl?.value ?? s.klCoef, baseline: policyTrainer.baseline.state(), round: round - 1, inRound: round };
          return {
            step,
            epoch: 0,
            stage: round,
            stageStep: step - before,
            cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed },
            optimizers: () => ({ policy: policyTrainer.optimizer.state(), ...(rewardTrainer ? { reward: rewardTrainer.optimizer.state() } : {}) }),
            buffers: () => ({ policy: policy.data, reward: rewardParams.data }),
            stageSamples: roundSamples(rollouts, (e) => indexOfPrompt.get(e)!, genVersion, progress),
            extra: state as unknown as Record<string, unknown>,
            rngExtra: { roundSeed: seed + round },
          };
        };
        // Stopped between peer calls (which finish before the stop is seen): keep what the round has, then stop.
        const checkpointIfStopping = async () => {
          if (!ctx.signal.aborted) return;
          if (!skipOnStop()) await points.checkpoint(inRound());
          ctx.signal.throwIfAborted();
        };
        if (!resumed) await checkpointIfStopping();
        // 2. Reward step: the demonstration over each of its own samples; then the service serves the result.
        if (rewardTrainer && !progress.rewards) {
          const pairs: PairExample[] = rollouts.map((r) => ({ chosen: r.example, rejected: { promptIds: r.example.promptIds, responseIds: r.ids, truncated: false } }));
          const rewardSteps = Math.ceil(pairs.length / s.reward.batchSize) * s.reward.epochs;
          const fit: LoopProgress = (progress.reward ??= { step: 0, sums: {} });
          await rewardTrainer.fit({
            pairs, batchSize: s.reward.batchSize, steps: rewardSteps, seed: seed + round, signal: ctx.signal,
            // A resumed round continues the reward updates where they stopped (its optimizer state is loaded above).
            ...(fit.step > 0 ? { startStep: fit.step, cursor: fit.cursor, optimizerState: rewardTrainer.optimizer.state() } : {}),
            onStep: (_k, m) => addMetrics(fit, m),
            afterStep: async (at) => {
              fit.step = at.step;
              fit.cursor = at.cursor;
              if (at.stopping && !skipOnStop()) await points.checkpoint(inRound());
            },
          });
          const mean = meansOf(fit, rewardSteps);
          metrics['rm/loss'] = mean['rm/loss']!;
          metrics['rm/accuracy'] = mean['rm/accuracy']!;
          metrics['rm/margin'] = mean['rm/margin']!;
          // Before any update on this round's pairs: does last round's reward model already tell them apart?
          metrics['rm/accuracy_before'] = fit.first!['rm/accuracy']!;
          rmVersion = undefined;
        }
        // 3. Scores from the reward-model service (pushing the reward weights first when they changed).
        if (!progress.rewards) {
          const scored = await score(ctx, rewardClient, rewardParams, rmNames, rollouts.map((r) => ({ promptIds: r.example.promptIds, responseIds: r.ids })), rmVersion, round, retry).catch(async (e: unknown) => {
            // Stopped while waiting to retry a score: the round keeps its samples and reward step.
            if (ctx.signal.aborted && !skipOnStop()) await points.checkpoint(inRound());
            throw e;
          });
          rmVersion = scored.version;
          metrics['rm/weight_version'] = Number(scored.version);
          if (scored.syncSeconds !== undefined) metrics['sync/seconds']! += scored.syncSeconds;
          const raw = scored.rewards.map((x, i) => x + (rollouts[i]!.missingEos ? s.missingEosPenalty : 0));
          const mean = scored.rewards.reduce((a, b) => a + b, 0) / scored.rewards.length;
          metrics['reward/mean'] = mean;
          metrics['reward/std'] = Math.sqrt(scored.rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / scored.rewards.length);
          progress.rewards = normalizer.normalize(raw);
        }
        const rewards = progress.rewards;
        const klCoef = kl?.value ?? s.klCoef;
        // Policy step: RLOO's groups must be whole, which they are (stale rejection drops whole prompts).
        const batch: Rollout[] = rollouts.map((r, i) => ({ promptIds: r.example.promptIds, responseIds: r.ids, reward: rewards[i]! }));
        const options = {
          rollouts: batch, samplesPerPrompt: s.samplesPerPrompt, klCoef, whitenAdvantages: s.whitenAdvantages, gaeGamma: s.gaeGamma, gaeLambda: s.gaeLambda,
          epochs: s.policyEpochs, batchSize: s.batchSize, gradientAccumulationSteps: s.gradientAccumulationSteps, seed: seed + round, signal: ctx.signal,
          lrAt: (k: number) => lrSchedule.lrAt(before + k),
        };
        if (!progress.policy) {
          const prepared = await policyTrainer.prepare(options);
          progress.policy = { step: 0, sums: {}, analysed: prepared.analysed, stats: prepared.stats };
          await checkpointIfStopping();
        }
        const pol = progress.policy;
        const prepared = { rollouts: batch.filter((r) => r.responseIds.length > 0), analysed: pol.analysed, stats: pol.stats };
        const out = await policyTrainer.update(
          prepared,
          {
            ...options,
            onStep: (k, m) => {
              addMetrics(pol, m);
              step = before + k;
              ctx.job.progress!.step = BigInt(step);
              ctx.job.progress!.stage = round;
              ctx.job.progress!.fraction = Math.min(1, step / (s.rounds * policySteps));
              ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), stage: round, metrics: m } });
            },
          },
          pol.step > 0 ? { startStep: pol.step, cursor: pol.cursor! } : undefined,
          async (at) => {
            pol.step = at.step;
            pol.cursor = at.cursor;
            await periodic.after(before + at.step);
            // The round's last update is checkpointed at the round's end, with the round finished.
            if (!at.last) await points.after(inRound(), { boundary: false, stopping: at.stopping && !skipOnStop() });
          },
        );
        const updates = pol.step;
        const means = meansOf(pol, updates);
        kl?.update(out.metrics.kl!, batch.length);
        Object.assign(metrics, { kl: pol.stats.kl!, kl_coef: klCoef, policy_loss: means.policy_loss!, 'advantage/mean': pol.stats['advantage/mean']! });
        if (means.value_loss !== undefined) metrics['value_loss'] = means.value_loss;
        ctx.job.latestMetrics = { ...ctx.job.latestMetrics, ...metrics };
        ctx.emit({ case: 'stepMetrics', value: { step: BigInt(step), stage: round, metrics } });
        // Round boundary: evaluate (eval_datasets) and checkpoint the policy with the state the next round needs.
        for (const n of lmNames) lm.set(n, policy.view(n));
        const state: RftResumeState = { rewardMoments: normalizer.moments.state(), klCoef: kl?.value ?? s.klCoef, baseline: policyTrainer.baseline.state(), round };
        await points.after(
          {
            step,
            epoch: 0,
            stage: round,
            stageStep: updates,
            cursor: { epoch: 0, rowsConsumed: 0, shuffleSeed: seed },
            optimizers: () => ({ policy: policyTrainer.optimizer.state(), ...(rewardTrainer ? { reward: rewardTrainer.optimizer.state() } : {}) }),
            buffers: () => ({ policy: policy.data, reward: rewardParams.data }),
            extra: state as unknown as Record<string, unknown>,
            rngExtra: { roundSeed: seed + round },
          },
          { boundary: true },
        );
        ctx.save();
      }
      // The generator ends up serving the trained policy (and the reward-model service the trained reward).
      await withRetry('push the final policy', async () => {
        const pushed = await pushNextVersion(generator, tensorsOf(policy, lmNames), { label: `${ctx.job.id}/final`, ...(adapterPush ? { header: adapterPush.header } : {}) });
        ctx.emit({ case: 'weightsPushed', value: { target: 'generator', version: pushed.version, bytes: pushed.bytes, seconds: pushed.seconds, replicas: pushed.replicas } });
      }, retry);
    } finally {
      generator.close();
      rewardClient.close();
      await policyTrainer.release();
      await rewardTrainer?.release();
      await evaluator?.release();
    }
    // A frozen reward model the service brought itself was never the trainer's to save.
    if (s.reward.frozen && !rc?.rewardModel) return;
    const rmDir = saveRewardModel(store, `${ctx.job.id}.reward-model`, model, rewardParams, { name: `juice-rft-reward-${ctx.job.id}`, metadata: { step, algorithm: 'RFT', reward_weight_version: Number(rmVersion ?? 0n) } });
    jobLog(ctx, 'info', LOGGER, `reward model saved to ${rmDir}`, { reward_model_path: rmDir });
  };
}

/** The reward weights RFT starts from: RftConfig.reward_model, else the job's model with a fresh head. */
function initialReward(source: ModelSource | undefined, model: LoadedModel, seed: number): ParamSet {
  if (!source?.kind.case) return rewardParamsFromLm(model, seed);
  if (source.kind.case !== 'hfDir') throw badSpec('spec.rft.reward_model', 'only hf_dir is supported for the initial reward model');
  const loaded = loadRewardParams(requestModelDir(source.kind.value, 'spec.rft.reward_model.hf_dir'), seed);
  const a = loaded.model.config;
  const b = model.config;
  if (a.vocabSize !== b.vocabSize || a.hiddenSize !== b.hiddenSize || a.numLayers !== b.numLayers || a.architecture !== b.architecture) {
    throw badSpec('spec.rft.reward_model', `must have the policy's architecture and vocabulary (tokens are shared): got ${a.architecture} V${a.vocabSize} D${a.hiddenSize} L${a.numLayers}, policy ${b.architecture} V${b.vocabSize} D${b.hiddenSize} L${b.numLayers}`);
  }
  // Scores are requested by token id, so both must read ids as the same tokens.
  const differs = Array.from({ length: b.vocabSize }, (_, id) => id).find((id) => loaded.model.tokenizer.idToToken(id) !== model.tokenizer.idToToken(id));
  if (differs !== undefined) {
    throw badSpec('spec.rft.reward_model', `its tokenizer differs from the policy's (token id ${differs} is ${JSON.stringify(loaded.model.tokenizer.idToToken(differs))} there, ${JSON.stringify(model.tokenizer.idToToken(differs))} in the policy); train the reward model from the policy's model`);
  }
  return loaded.params;
}
