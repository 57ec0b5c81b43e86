// Every weight push of a job, reported alike (a WeightsPushed event: target, version, bytes, seconds,
// replicas), and WeightSyncConfig.every_n_steps: the policy pushed to the generator after every N
// optimizer steps, in addition to the pushes the algorithm makes itself (IRFT stage start, RFT round).
import type { NamedTensors, PushOptions, PushResult, PushTarget } from '@juice/weight-sync';
import type { RunContext } from '../job-manager.js';
import { resolveWeightSync } from '../settings/weight-sync.js';
import { jobLog } from './job-log.js';
import { generatorPeer, roleEndpoints } from './peer-pools.js';
import { withRetry } from './retry.js';

/** Pushes through the job's one push path and reports it as a WeightsPushed event. */
export async function pushReported(ctx: RunContext, to: PushTarget, role: 'generator' | 'reward_model', tensors: NamedTensors, o: PushOptions): Promise<PushResult> {
  const pushed = await to.push(tensors, o);
  ctx.emit({ case: 'weightsPushed', value: { target: role, version: pushed.version, bytes: pushed.bytes, seconds: pushed.seconds, replicas: pushed.replicas } });
  return pushed;
}

export interface PeriodicPush {
  /** Call after optimizer step `step` (the job's count): pushes when it is a multiple of every_n_steps. */
  after(step: number): Promise<void>;
}

/**
 * The every_n_steps push of the policy. A failed push is retried (a generator restarting), then fails the
 * job like any peer call: a job that asked to keep a generator in sync does not go on silently without.
 */
export function periodicPush(ctx: RunContext, generator: PushTarget | undefined, everyNSteps: number, tensors: () => NamedTensors, logger: string, header?: PushOptions['header']): PeriodicPush {
  if (!generator || everyNSteps <= 0) return { after: async () => undefined };
  return {
    async after(step) {
      if (step <= 0 || step % everyNSteps !== 0) return;
      await withRetry(`push the policy at step ${step} (weight_sync.every_n_steps ${everyNSteps})`, () => pushReported(ctx, generator, 'generator', tensors(), { label: `${ctx.job.id}/step${step}`, ...(header ? { header } : {}) }), {
        attempts: 5,
        signal: ctx.signal,
        onRetry: ({ what, attempt, delayMs, error }) => jobLog(ctx, 'warn', logger, `${what} failed (${error.message}); retry ${attempt} in ${delayMs} ms`, { step, attempt, delay_ms: delayMs }),
      });
    },
  };
}

/** A LoRA job's policy push: the adapter's header fields and the check that the generator serves the job's base. */
export interface PolicyAdapter {
  header: PushOptions['header'];
  checkBase(pool: Awaited<ReturnType<typeof generatorPeer>>['pool']): Promise<void>;
}

/**
 * SFT and DPO: with every_n_steps > 0 the job keeps spec.endpoints.generator serving its policy as it
 * trains (as OpenRLHF/TRL keep vLLM in sync); without it nothing is opened. close() ends the pool.
 */
export async function openPolicySync(ctx: RunContext, tensors: () => NamedTensors, logger: string, adapter?: PolicyAdapter): Promise<PeriodicPush & { close(): void }> {
  const spec = ctx.job.spec!;
  const sync = resolveWeightSync(spec);
  if (sync.everyNSteps <= 0) return { after: async () => undefined, close: () => undefined };
  const generator = await generatorPeer(ctx, roleEndpoints(spec.endpoints?.generator, undefined), logger, (spec.endpoints?.callTimeoutSeconds || 600) * 1000, sync.push);
  // A LoRA policy is pushed as its adapter alone, which is the policy only on a generator serving the job's base.
  if (adapter) await adapter.checkBase(generator.pool).catch((e: unknown) => {
    generator.close();
    throw e;
  });
  const periodic = periodicPush(ctx, generator, sync.everyNSteps, tensors, logger, adapter?.header);
  return { after: periodic.after, close: generator.close };
}

/** A loop's afterStep with the periodic push before it. */
export const withPeriodicPush =
  <A extends { step: number }, R>(push: PeriodicPush, afterStep: (at: A) => Promise<R>) =>
  async (at: A): Promise<R> => {
    await push.after(at.step);
    return afterStep(at);
  };
