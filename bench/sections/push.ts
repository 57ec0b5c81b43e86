// Weight-sync throughput: a FULL float32 push of the embedded model and a ~110 M Llama, split into its
// parts, and fanned out to 1 and 3 generator processes on loopback (two-phase: stage on all, then
// activate on all, as the trainer pushes to a pool).
//   sender    = chunking + the per-chunk SHA-256 on the trainer (once per push, shared by all replicas)
//   checksum  = the receiver re-hashing every chunk (weightChunkSha256)
//   decode    = the receiver's validation, float decode into the new tensors and finite check, without checksum
//   transfer  = stage time − the above (gRPC framing, protobuf encode/decode, loopback copies)
//   install   = activation: the generator hands the tensors to its engine and scorer (ActivateWeights)
// GB/s end to end = one copy's bytes / (stage + activate) seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { createDefaultModel, DEFAULT_MODEL_CONFIG, initParameters, parameterCount, type ModelConfig } from '@juice/models';
import { GeneratorService, weightChunkSha256 } from '@juice/proto';
import { ServicePool } from '@juice/service-kit';
import { PoolWeights, receiveWeights, weightChunks, type PushTensor } from '@juice/weight-sync';
import { median, table, type Section } from './types.js';

/** ~110 M parameters (Llama layout; the small vocabulary keeps the tokenizer the embedded one). */
export const LLAMA_110M: ModelConfig = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 768, intermediateSize: 2048, numLayers: 16, numHeads: 12, numKvHeads: 12, headDim: 64, maxPositions: 256 };

const REPEATS = Number(process.env.JUICE_BENCH_PUSH_REPEATS ?? 3);

function tensorsOf(config: ModelConfig): Map<string, PushTensor> {
  const p = initParameters(config, 1);
  return new Map(p.entries.map((e) => [e.name, { shape: e.shape, data: p.view(e.name) }]));
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, (performance.now() - t0) / 1000];
}

async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const v = await f();
  return [v, (performance.now() - t0) / 1000];
}

/** The push's parts measured in this process (no gRPC). */
async function parts(tensors: Map<string, PushTensor>) {
  const expected = new Map([...tensors].map(([n, t]) => [n, t.shape]));
  const sender: number[] = [];
  const checksum: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const [chunks, s] = time(() => [...weightChunks(tensors, { version: 1n, stable: true })]);
    sender.push(s);
    checksum.push(time(() => chunks.forEach((c) => weightChunkSha256(c.tensors)))[1]);
    const [, recv] = await timeAsync(() => receiveWeights((async function* () { yield* chunks; })(), { expected, heldVersions: [0n] }));
    decode.push(recv - checksum.at(-1)!);
  }
  return { sender: median(sender), checksum: median(checksum), decode: median(decode) };
}

async function fanOut(model: string, replicas: number, tensors: Map<string, PushTensor>) {
  const procs: RoleProcess[] = [];
  try {
    for (let i = 0; i < replicas; i++) procs.push(await startRoleProcess('generator', ['--model', model], { timeoutMs: 180_000 }));
    const weights = new PoolWeights();
    const pool = await ServicePool.open(GeneratorService, procs.map((p) => p.address), { admit: (r) => weights.admit(r.client), reresolveMs: 0 });
    try {
      const runs = [];
      // The first push pays connection set-up and the engine's first weight swap: report the later ones.
      for (let r = 0; r <= REPEATS; r++) runs.push(await weights.push(pool, tensors, `bench/${r}`));
      const steady = runs.slice(1);
      return { stage: median(steady.map((s) => s.stageSeconds)), activate: median(steady.map((s) => s.activateSeconds)), seconds: median(steady.map((s) => s.seconds)), replicas: steady[0]!.replicas };
    } finally {
      pool.close();
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

export const pushSection: Section = async (ctx) => {
  const base = mkdtempSync(join(tmpdir(), 'juice-bench-push-'));
  const rows: [string, string | number, string?][] = [];
  try {
    for (const [name, slug, config] of [['embedded (juice-tiny)', 'default', DEFAULT_MODEL_CONFIG], ['llama-110M', 'llama-110m', LLAMA_110M]] as const) {
      const tensors = tensorsOf(config);
      const bytes = [...tensors.values()].reduce((a, t) => a + t.data.byteLength, 0);
      const model = join(base, slug);
      createDefaultModel(model, { corpus: ['the quick brown fox jumps over the lazy dog'], seed: 1, config });
      const p = await parts(tensors);
      rows.push([`${name}: ${(parameterCount(config) / 1e6).toFixed(1)} M params, ${(bytes / 1e6).toFixed(1)} MB float32`, '', '']);
      rows.push(['  sender (chunk + sha256, once)', p.sender, 's'], ['  receiver checksum', p.checksum, 's'], ['  receiver decode + checks', p.decode, 's']);
      for (const n of [1, 3]) {
        const f = await fanOut(model, n, tensors);
        const transfer = Math.max(0, f.stage - p.sender - p.checksum - p.decode);
        const gbps = bytes / 1e9 / f.seconds;
        rows.push(
          [`  ${n} replica${n > 1 ? 's' : ''}: stage (all)`, f.stage, 's'],
          ['    of which transfer (est.)', transfer, 's'],
          ['    activation / install (all)', f.activate, 's'],
          ['    end to end', f.seconds, `s  ${gbps.toFixed(2)} GB/s per copy, ${((bytes * f.replicas) / 1e9 / f.seconds).toFixed(2)} GB/s sent`],
        );
        ctx.results[`push.${slug}.r${n}.seconds`] = f.seconds;
        ctx.results[`push.${slug}.r${n}.gbps`] = gbps;
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  table(rows);
};
