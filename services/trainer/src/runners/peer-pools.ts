// The generator and the reward model of a job, each a pool of replicas (issue #13): the endpoint list
// (spec.endpoints or the trainer's --generator / --reward-model, repeatable, comma lists and dns:/// names
// alike), one PoolWeights per role that pushes with the job's WeightSyncConfig (settings/weight-sync.ts), and
// a replica that joins or restarts is brought to the current version before it takes work. Pool events
// (a replica down, back, gone) are job log lines and a metric, because the job goes on with fewer.
import { GeneratorPool, meter, RewardModelPool, endpointList, type PoolEvent } from '@juice/service-kit';
import { PoolWeights, type PoolWeightsOptions, type PushTarget, type WeightReplicaSet, type WeightTarget } from '@juice/weight-sync';
import type { RunContext } from '../job-manager.js';
import { jobLog } from './job-log.js';

let events: ReturnType<typeof meter['createCounter']> | undefined;

/** Addresses of a role: the job's list if it names any, else the trainer's defaults. */
export function roleEndpoints(fromSpec: readonly string[] | undefined, defaults: string | readonly string[] | undefined): string[] {
  const spec = endpointList(fromSpec ?? []);
  return spec.length ? spec : endpointList([defaults ?? []].flat());
}

function onEvent(ctx: RunContext, role: string, logger: string) {
  return (e: PoolEvent) => {
    events ??= meter.createCounter('juice.trainer.pool_events', { description: 'replica joins, admissions, failures and departures of the generator / reward-model pools' });
    events.add(1, { role, kind: e.kind });
    const level = e.kind === 'down' || e.kind === 'left' ? 'warn' : 'info';
    const what = { joined: 'joined', ready: 'serves the pool version and takes work', down: 'failed; its work goes to the others', left: 'left the pool' }[e.kind];
    jobLog(ctx, level, logger, `${role} replica ${e.address} ${what}${e.reason ? ` (${e.reason})` : ''}: ${e.ready} of ${e.known} ready`, { role, replica: e.address, event: e.kind, replicas_ready: e.ready, replicas_known: e.known });
  };
}

/** At the end of a job: how much work each replica did (items = prompts or sequences), as a log line. */
function summarize(ctx: RunContext, role: string, logger: string, pool: { all(): { address: string; items: number; failures: number }[] }): void {
  const rs = pool.all();
  jobLog(ctx, 'info', logger, `${role} pool: ${rs.map((r) => `${r.address} did ${r.items} items${r.failures ? ` (${r.failures} failed calls)` : ''}`).join(', ')}`, {
    role,
    replicas: rs.length,
    ...Object.fromEntries(rs.flatMap((r) => [[`items ${r.address}`, r.items], [`failures ${r.address}`, r.failures]])),
  });
}

/**
 * The pool as the job's push target: PoolWeights.push, each push also a job log line saying how it went
 * (a delta to how many replicas, how many tensors; stage and activation time), which WeightsPushed does not.
 */
function pushTarget<T extends WeightTarget>(ctx: RunContext, role: string, logger: string, weights: PoolWeights, pool: WeightReplicaSet<T>): PushTarget {
  return {
    async push(tensors, o) {
      const r = await weights.push(pool, tensors, o);
      const delta = r.deltaReplicas ? `, a delta of ${r.tensorsSent} of ${tensors.size} tensors to ${r.deltaReplicas} of them` : '';
      jobLog(ctx, 'info', logger, `${role} serves version ${r.version} on ${r.replicas} replicas: ${r.bytes} bytes in ${r.seconds.toFixed(3)} s${delta}`, {
        role, version: r.version, replicas: r.replicas, bytes: r.bytes, delta_replicas: r.deltaReplicas, tensors_sent: r.tensorsSent, tensors: tensors.size, stage_seconds: r.stageSeconds, activate_seconds: r.activateSeconds,
      });
      return r;
    },
  };
}

const channelOptions = { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000 };

/** The generator pool as the runners use it: the push target (every replica, the job's sync options) + Generate spread by load. */
export async function generatorPeer(ctx: RunContext, addresses: readonly string[], logger: string, defaultDeadlineMs: number, sync: PoolWeightsOptions) {
  const weights = new PoolWeights(sync);
  const gen = await GeneratorPool.open(addresses, { defaultDeadlineMs, channelOptions, admit: (r) => weights.admit(r.client), onEvent: onEvent(ctx, 'generator', logger) });
  return {
    ...pushTarget(ctx, 'generator', logger, weights, gen.pool),
    generate: gen.generate.bind(gen),
    close: () => {
      summarize(ctx, 'generator', logger, gen.pool);
      gen.close();
    },
    pool: gen.pool,
  };
}

/** The reward-model pool: push target (the job's sync options) + Score spread by load. */
export async function rewardPeer(ctx: RunContext, addresses: readonly string[], logger: string, defaultDeadlineMs: number, sync: PoolWeightsOptions) {
  const weights = new PoolWeights(sync);
  const rm = await RewardModelPool.open(addresses, { defaultDeadlineMs, channelOptions, admit: (r) => weights.admit(r.client), onEvent: onEvent(ctx, 'reward model', logger) });
  return {
    ...pushTarget(ctx, 'reward model', logger, weights, rm.pool),
    score: rm.score.bind(rm),
    close: () => {
      summarize(ctx, 'reward model', logger, rm.pool);
      rm.close();
    },
    pool: rm.pool,
  };
}

export type GeneratorPeer = Awaited<ReturnType<typeof generatorPeer>>;
export type RewardPeer = Awaited<ReturnType<typeof rewardPeer>>;
