// LoRA (r 16, all linear modules, PEFT semantics) against full-parameter training and serving, ratios
// from one run on the bench's ~110 M Llama (push.ts LLAMA_110M, random weights):
//   train-step time (forward + backward + AdamW), LoRA / full            target <= 0.7x
//   peak RSS of a process doing only that, LoRA / full (child processes)  reported
//   optimizer state bytes (AdamW m and v, as checkpointed), LoRA / full   target <= 5 %
//   adapter-only push to a generator process, end to end (chunk + send + install)  target < 50 ms
//   decode tokens/s of one batch whose rows use 4 adapters (generator holding 4), / the same batch on
//   one adapter (a generator holding only that one)                    target >= 80 %
// JUICE_BENCH_LORA_LARGE=1 adds the train-step figures of a ~0.5 B Llama made by juice (random
// weights; full training needs ~10 GB and minutes, so it is off by default). JUICE_BENCH_LORA_ONLY=train
// or =serving runs one half; JUICE_BENCH_LORA_STEPS sets the measured steps (default 3).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { startRoleProcess } from '@juice/cli';
import { createDefaultModel, initLora, parameterCount, type LoraSpec, type ModelConfig } from '@juice/models';
import type { ParamSet } from '@juice/optim';
import { GeneratorService, LoraConfigSchema, type WeightChunk } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { weightChunks } from '@juice/weight-sync';
import type { ChildRequest, ChildResult } from './lora-train-child.js';
import { LLAMA_110M } from './push.js';
import { median, table, type Section } from './types.js';

const SPEC: LoraSpec = { rank: 16, alpha: 32, targetModules: ['all-linear'] };
/** ~0.48 B parameters, Llama layout, the embedded vocabulary (so the figure is the transformer's). */
const LLAMA_05B: ModelConfig = { ...LLAMA_110M, hiddenSize: 1280, intermediateSize: 3456, numLayers: 24, numHeads: 20, numKvHeads: 20, headDim: 64 };
const STEPS = Number(process.env.JUICE_BENCH_LORA_STEPS ?? 3);
const PUSHES = 5;
const ROWS = 8;
const NEW_TOKENS = 32;
const ROUNDS = 3;

function runChild(r: ChildRequest): Promise<ChildResult> {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'lora-train-child.ts');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, file, JSON.stringify(r)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`lora-train-child (${r.mode}) exited with ${code ?? signal}`));
      resolve(JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult);
    });
  });
}

async function trainFigures(name: string, slug: string, config: ModelConfig, batch: number, seqLen: number, ctx: Parameters<Section>[0]): Promise<[string, string | number, string?][]> {
  const req = { config, lora: SPEC, batch, seqLen };
  // One process at a time: they must not share the cores or the memory they are measured on. Time: both
  // graphs in one process, steps alternated (same load on both). Peak RSS: one process per mode.
  const timed = await runChild({ ...req, mode: 'both', steps: STEPS });
  const full = timed.full!;
  const lora = timed.lora!;
  const fullRss = (await runChild({ ...req, mode: 'full', steps: 1 })).maxRssBytes;
  const loraRss = (await runChild({ ...req, mode: 'lora', steps: 1 })).maxRssBytes;
  const time = lora.bestMs / full.bestMs;
  const rss = loraRss / fullRss;
  const state = lora.optimizerStateBytes / full.optimizerStateBytes;
  ctx.results[`lora.${slug}.step_ratio`] = time;
  ctx.results[`lora.${slug}.rss_ratio`] = rss;
  ctx.results[`lora.${slug}.optimizer_state_ratio`] = state;
  ctx.results[`lora.${slug}.full_step_ms`] = full.bestMs;
  ctx.results[`lora.${slug}.lora_step_ms`] = lora.bestMs;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return [
    [`${name}: ${(parameterCount(config) / 1e6).toFixed(1)} M params, B${batch} T${seqLen}, LoRA trains ${(lora.trainedParams / 1e6).toFixed(2)} M`, '', ''],
    ['  train step (fwd+bwd+AdamW), full', full.bestMs, `ms (best of ${STEPS}, alternated with LoRA; median ${full.medianMs.toFixed(0)})`],
    ['  train step, LoRA', lora.bestMs, `ms (median ${lora.medianMs.toFixed(0)})`],
    ['  LoRA / full step time', `${time.toFixed(2)}x`, `target <= 0.7x ${time <= 0.7 ? 'met' : 'MISSED'}`],
    ['  peak RSS full / LoRA', `${mb(fullRss)} / ${mb(loraRss)}`, `LoRA / full ${rss.toFixed(2)}x (separate processes; report)`],
    ['  optimizer state full / LoRA', `${mb(full.optimizerStateBytes)} / ${(lora.optimizerStateBytes / 2 ** 20).toFixed(1)} MiB`, `${(100 * state).toFixed(2)} % (target <= 5 % ${state <= 0.05 ? 'met' : 'MISSED'})`],
  ];
}

/** An adapter as a trainer holds it (B ≠ 0 so it computes something; a fresh PEFT adapter has B = 0). */
function adapterOf(seed: number, config: ModelConfig): ParamSet {
  const p = initLora(config, SPEC, seed);
  for (const e of p.entries) if (e.name.includes('lora_B')) p.view(e.name).fill(1e-3 * (seed + 1));
  return p;
}

/** The push as the trainer sends it: chunked and hashed (part of the measured time), the header marked adapter-only. */
function adapterChunks(name: string, p: ParamSet, version: bigint): WeightChunk[] {
  const chunks = [...weightChunks(new Map(p.entries.map((e) => [e.name, { shape: e.shape, data: p.view(e.name) }])), { version })];
  Object.assign(chunks[0]!.header!, { loraAdapterOnly: true, adapterName: name, lora: create(LoraConfigSchema, { rank: SPEC.rank, alpha: SPEC.alpha, targetModules: [...SPEC.targetModules!] }) });
  return chunks;
}

async function servingFigures(ctx: Parameters<Section>[0]): Promise<[string, string | number, string?][]> {
  const root = mkdtempSync(join(tmpdir(), 'juice-bench-lora-'));
  const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i}+${i % 7}? ${i}+${i % 7}=${i + (i % 7)}`);
  createDefaultModel(join(root, 'model'), { corpus, seed: 1, config: LLAMA_110M });
  // Two generators: one holding a single adapter, one holding four (the stacked branch's width is the
  // sum of the held ranks, so "1 adapter" must be a generator that holds one).
  const procs = await Promise.all([0, 1].map(() => startRoleProcess('generator', ['--model', join(root, 'model'), '--max-adapters', '4', '--max-batch', String(ROWS)], { timeoutMs: 180_000 })));
  const [one, four] = procs.map((p) => createClient(GeneratorService, p.address)) as [ReturnType<typeof createClient<typeof GeneratorService>>, ReturnType<typeof createClient<typeof GeneratorService>>];
  const versions = new Map<unknown, bigint>();
  const push = async (g: typeof one, name: string, p: ParamSet) => {
    const version = (versions.get(g) ?? 0n) + 1n;
    versions.set(g, version);
    const t0 = performance.now();
    const chunks = adapterChunks(name, p, version);
    const res = await g.pushWeights((async function* () { yield* chunks; })());
    const ms = performance.now() - t0;
    return { ms, serverMs: Number(res.duration?.seconds ?? 0n) * 1000 + (res.duration?.nanos ?? 0) / 1e6, bytes: p.numParams * 4, sent: Number(res.bytes) };
  };
  const decode = async (g: typeof one, adapters: string[]) => {
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: ROWS }, (_, i) =>
      g.generate({ prompts: [{ kind: { case: 'text', value: `What is ${i * 13}+${i % 7}?` } }], adapter: adapters[i % adapters.length]!, sampling: { temperature: 0, maxNewTokens: NEW_TOKENS, ignoreEos: true } }),
    ));
    const tokens = res.reduce((a, r) => a + r.results[0]!.samples[0]!.tokenIds.length, 0);
    return tokens / ((performance.now() - t0) / 1000);
  };
  try {
    const adapters = [0, 1, 2, 3].map((i) => adapterOf(i, LLAMA_110M));
    // Pushes of one adapter name (each replaces the last): the first pays connection set-up.
    const pushes = [];
    for (let i = 0; i <= PUSHES; i++) pushes.push(await push(one, 'a0', adapters[i % 4]!));
    const steady = pushes.slice(1);
    const pushMs = median(steady.map((p) => p.ms));
    const serverMs = median(steady.map((p) => p.serverMs));
    for (let i = 0; i < 4; i++) await push(four, `a${i}`, adapters[i]!);
    await Promise.all([decode(one, ['a0']), decode(four, ['a0', 'a1', 'a2', 'a3'])]); // warm-up
    // Alternated rounds, best of each, so a neighbour's load falls on both sides alike.
    const single: number[] = [];
    const mixed: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      single.push(await decode(one, ['a0']));
      mixed.push(await decode(four, ['a0', 'a1', 'a2', 'a3']));
    }
    const ratio = Math.max(...mixed) / Math.max(...single);
    ctx.results['lora.llama-110m.adapter_push_ms'] = pushMs;
    ctx.results['lora.llama-110m.adapter_push_server_ms'] = serverMs;
    ctx.results['lora.llama-110m.decode_single_tps'] = Math.max(...single);
    ctx.results['lora.llama-110m.decode_mixed_tps'] = Math.max(...mixed);
    ctx.results['lora.llama-110m.decode_mixed_ratio'] = ratio;
    return [
      [`llama-110M generator process (--max-adapters 4, --max-batch ${ROWS})`, '', ''],
      ['  adapter-only push, end to end', pushMs, `ms (median of ${PUSHES}; ${(steady[0]!.sent / 2 ** 20).toFixed(1)} MiB sent = adapter bytes ${steady[0]!.sent === steady[0]!.bytes ? 'yes' : 'NO'}; target < 50 ms ${pushMs < 50 ? 'met' : 'MISSED'})`],
      ['    of which the generator (receive + install)', serverMs, 'ms (PushWeightsResponse.duration)'],
      [`  decode, ${ROWS} rows on 1 adapter (1 held)`, Math.max(...single), `tokens/s (${NEW_TOKENS} new tokens each after a ~10-token prompt, whole call timed; best of ${ROUNDS})`],
      [`  decode, ${ROWS} rows on 4 adapters mixed`, Math.max(...mixed), 'tokens/s'],
      ['  mixed / single', `${(100 * ratio).toFixed(0)} %`, `target >= 80 % ${ratio >= 0.8 ? 'met' : 'MISSED'}`],
    ];
  } finally {
    one.close();
    four.close();
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(root, { recursive: true, force: true });
  }
}

export const loraSection: Section = async (ctx) => {
  const only = process.env.JUICE_BENCH_LORA_ONLY; // "train" or "serving": one half of the section
  const rows: [string, string | number, string?][] = [];
  if (only !== 'serving') {
    rows.push(...(await trainFigures('llama-110M', 'llama-110m', LLAMA_110M, 4, 128, ctx)));
    if (process.env.JUICE_BENCH_LORA_LARGE === '1') rows.push(...(await trainFigures('llama-0.5B', 'llama-05b', LLAMA_05B, 2, 128, ctx)));
    else rows.push(['llama-0.5B train step', 'skipped', 'set JUICE_BENCH_LORA_LARGE=1 (full training needs ~10 GB and minutes)']);
  }
  if (only !== 'train') rows.push(...(await servingFigures(ctx)));
  table(rows);
};
