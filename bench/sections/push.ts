// Weight-sync throughput: a FULL float32 push of the embedded model and a ~110 M Llama, split into its
// parts, and fanned out to 1 and 3 generator processes on loopback (two-phase: stage on all, then
// activate on all, as the trainer pushes to a pool).
// Measured in this process (no gRPC):
//   sender    = chunking + the per-chunk SHA-256 on the trainer (once per push, shared by all replicas)
//   encode    = protobuf encoding of every chunk (encodeWeightChunk, what the gRPC client does per replica)
//   checksum  = re-hashing every chunk (weightChunkSha256), as a receiver does
//   decode    = a receiver's validation, float decode into new tensors and finite check, without checksum
// Measured by the generators themselves (their 'weight push received' / 'weights activated' log lines,
// median over replicas and pushes):
//   wait      = the receive loop waiting for the next chunk: transfer, gRPC framing, protobuf decode
//   checksum, decode = as above, in the serving process (under the load of the transfer)
//   install   = delta applied and the version staged
//   activate  = ActivateWeights: both worker threads (engine, scorer) hold the version
// GB/s end to end = one copy's bytes / (stage + activate) seconds, as the trainer sees them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoleProcess, type RoleProcess } from '@juice/cli';
import { createDefaultModel, DEFAULT_MODEL_CONFIG, initParameters, parameterCount, type ModelConfig } from '@juice/models';
import { encodeWeightChunk, GeneratorService, weightChunkSha256 } from '@juice/proto';
import { ServicePool } from '@juice/service-kit';
import { PoolWeights, PUSH_TIMINGS_LOG, receiveWeights, weightChunks, type PushTensor } from '@juice/weight-sync';
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
  const encode: number[] = [];
  const checksum: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const [chunks, s] = time(() => [...weightChunks(tensors, { version: 1n, stable: true })]);
    sender.push(s);
    encode.push(time(() => chunks.forEach((c) => encodeWeightChunk(c)))[1]);
    checksum.push(time(() => chunks.forEach((c) => weightChunkSha256(c.tensors)))[1]);
    const [, recv] = await timeAsync(() => receiveWeights((async function* () { yield* chunks; })(), { expected, heldVersions: [0n] }));
    decode.push(recv - checksum.at(-1)!);
  }
  return { sender: median(sender), encode: median(encode), checksum: median(checksum), decode: median(decode) };
}

/** The receivers' own split of the pushes after the first (seconds, median over replicas and pushes). */
function receiverSplit(procs: RoleProcess[]) {
  const lines = procs.flatMap((p) =>
    p
      .stderr()
      .split('\n')
      .filter((l) => l.includes(PUSH_TIMINGS_LOG) || l.includes('weights activated'))
      .map((l) => JSON.parse(l) as { msg: string; version: number } & Record<string, number>)
      .filter((l) => l.version > 1),
  );
  const of = (msg: string, key: string) => {
    const xs = lines.filter((l) => l.msg === msg).map((l) => l[key]! / 1000);
    return xs.length ? median(xs) : NaN;
  };
  return {
    wait: of(PUSH_TIMINGS_LOG, 'wait_ms'),
    checksum: of(PUSH_TIMINGS_LOG, 'checksum_ms'),
    decode: of(PUSH_TIMINGS_LOG, 'decode_ms'),
    install: of(PUSH_TIMINGS_LOG, 'install_ms'),
    activate: of('weights activated', 'serve_ms'),
  };
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
      return {
        stage: median(steady.map((s) => s.stageSeconds)),
        activate: median(steady.map((s) => s.activateSeconds)),
        seconds: median(steady.map((s) => s.seconds)),
        replicas: steady[0]!.replicas,
        receiver: receiverSplit(procs),
      };
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
      rows.push(
        ['  in process: sender (chunk + sha256, once)', p.sender, 's'],
        ['  in process: protobuf encode (per replica)', p.encode, 's'],
        ['  in process: checksum', p.checksum, 's'],
        ['  in process: decode + checks', p.decode, 's'],
      );
      for (const n of [1, 3]) {
        const f = await fanOut(model, n, tensors);
        const r = f.receiver;
        const gbps = bytes / 1e9 / f.seconds;
        rows.push(
          [`  ${n} replica${n > 1 ? 's' : ''}: stage (all, trainer's view)`, f.stage, 's'],
          ['    receiver: waiting for chunks (transfer)', r.wait, 's'],
          ['    receiver: checksum', r.checksum, 's'],
          ['    receiver: decode + checks', r.decode, 's'],
          ['    receiver: install (staged)', r.install, 's'],
          [`    activation (all, trainer's view)`, f.activate, 's'],
          ['    receiver: activation (both workers hold it)', r.activate, 's'],
          ['    end to end', f.seconds, `s  ${gbps.toFixed(2)} GB/s per copy, ${((bytes * f.replicas) / 1e9 / f.seconds).toFixed(2)} GB/s sent`],
        );
        for (const [k, v] of Object.entries(r)) ctx.results[`push.${slug}.r${n}.receiver.${k}_seconds`] = v;
        ctx.results[`push.${slug}.r${n}.seconds`] = f.seconds;
        ctx.results[`push.${slug}.r${n}.gbps`] = gbps;
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  table(rows);
};
