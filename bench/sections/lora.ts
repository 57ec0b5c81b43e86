// LoRA (r 16, all linear modules, PEFT semantics) against full-parameter training and serving, ratios
// from one run on the bench's ~110 M Llama (push.ts LLAMA_110M, random weights):
//   train-step time (forward + backward + AdamW), LoRA / full            target <= 0.7x
//   peak RSS of a process doing only that, LoRA / full (child processes)  reported
//   optimizer state bytes (AdamW m and v, as checkpointed), LoRA / full   target <= 5 %
//   adapter-only push to a generator process, end to end (chunk + send + install)  target < 50 ms
//   decode tokens/s of one batch whose rows use 4 adapters, / rows on 1  target >= 80 %
// JUICE_BENCH_LORA_LARGE=1 adds the train-step figures of a ~0.5 B Llama made by juice (random
// weights; full training needs ~10 GB and minutes, so it is off by default).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { startRoleProcess } from '@juice/cli';
import { createDefaultModel, initLora, parameterCount, type LoraSpec, type ModelConfig } from '@juice/models';
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
  const req = { config, lora: SPEC, batch, seqLen, steps: STEPS };
  // One at a time: the two processes must not share the cores or the memory they are measured on.
  const full = await runChild({ ...req, mode: 'full' });
  const lora = await runChild({ ...req, mode: 'lora' });
  const time = lora.stepMs / full.stepMs;
  const rss = lora.maxRssBytes / full.maxRssBytes;
  const state = lora.optimizerStateBytes / full.optimizerStateBytes;
  ctx.results[`lora.${slug}.step_ratio`] = time;
  ctx.results[`lora.${slug}.rss_ratio`] = rss;
  ctx.results[`lora.${slug}.optimizer_state_ratio`] = state;
  ctx.results[`lora.${slug}.full_step_ms`] = full.stepMs;
  ctx.results[`lora.${slug}.lora_step_ms`] = lora.stepMs;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  return [
    [`${name}: ${(parameterCount(config) / 1e6).toFixed(1)} M params, B${batch} T${seqLen}, LoRA trains ${(lora.trainedParams / 1e6).toFixed(2)} M`, '', ''],
    ['  train step (fwd+bwd+AdamW), full', full.stepMs, `ms (median of ${STEPS})`],
    ['  train step, LoRA', lora.stepMs, 'ms'],
    ['  LoRA / full step time', `${time.toFixed(2)}x`, `target <= 0.7x ${time <= 0.7 ? 'met' : 'MISSED'}`],
    ['  peak RSS full / LoRA', `${mb(full.maxRssBytes)} / ${mb(lora.maxRssBytes)}`, `LoRA / full ${rss.toFixed(2)}x (report)`],
    ['  optimizer state full / LoRA', `${mb(full.optimizerStateBytes)} / ${(lora.optimizerStateBytes / 2 ** 20).toFixed(1)} MiB`, `${(100 * state).toFixed(2)} % (target <= 5 % ${state <= 0.05 ? 'met' : 'MISSED'})`],
  ];
}

function adapterChunks(name: string, seed: number, version: bigint, config: ModelConfig): { chunks: WeightChunk[]; bytes: number } {
  const p = initLora(config, SPEC, seed);
  // B ≠ 0 so the adapter computes something (a fresh PEFT adapter has B = 0).
  for (const e of p.entries) if (e.name.includes('lora_B')) p.view(e.name).fill(1e-3 * (seed + 1));
  const chunks = [...weightChunks(new Map(p.entries.map((e) => [e.name, { shape: e.shape, data: p.view(e.name) }])), { version })];
  Object.assign(chunks[0]!.header!, { loraAdapterOnly: true, adapterName: name, lora: create(LoraConfigSchema, { rank: SPEC.rank, alpha: SPEC.alpha, targetModules: [...SPEC.targetModules!] }) });
  return { chunks, bytes: p.numParams * 4 };
}

async function servingFigures(ctx: Parameters<Section>[0]): Promise<[string, string | number, string?][]> {
  const root = mkdtempSync(join(tmpdir(), 'juice-bench-lora-'));
  const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i}+${i % 7}? ${i}+${i % 7}=${i + (i % 7)}`);
  createDefaultModel(join(root, 'model'), { corpus, seed: 1, config: LLAMA_110M });
  const gen = await startRoleProcess('generator', ['--model', join(root, 'model'), '--max-adapters', '4', '--max-batch', String(ROWS)], { timeoutMs: 180_000 });
  const g = createClient(GeneratorService, gen.address);
  let version = 1n;
  const push = async (name: string, seed: number) => {
    const t0 = performance.now();
    const { chunks, bytes } = adapterChunks(name, seed, version++, LLAMA_110M);
    const res = await g.pushWeights((async function* () { yield* chunks; })());
    return { ms: performance.now() - t0, bytes, sent: Number(res.bytes) };
  };
  const decode = async (adapters: string[]) => {
    const t0 = performance.now();
    const res = await Promise.all(Array.from({ length: ROWS }, (_, i) =>
      g.generate({ prompts: [{ kind: { case: 'text', value: `What is ${i * 13}+${i % 7}?` } }], adapter: adapters[i % adapters.length]!, sampling: { temperature: 0, maxNewTokens: NEW_TOKENS, ignoreEos: true } }),
    ));
    const tokens = res.reduce((a, r) => a + r.results[0]!.samples[0]!.tokenIds.length, 0);
    return tokens / ((performance.now() - t0) / 1000);
  };
  try {
    // Pushes of one adapter name (each replaces the last): the first pays connection set-up.
    const pushes = [];
    for (let i = 0; i <= PUSHES; i++) pushes.push(await push('a0', i));
    const steady = pushes.slice(1);
    const pushMs = median(steady.map((p) => p.ms));
    await decode(['a0']); // warm-up
    // Alternated, so a neighbour's load falls on both; best of 2 each.
    const single: number[] = [];
    for (let r = 0; r < 2; r++) single.push(await decode(['a0']));
    for (let i = 1; i < 4; i++) await push(`a${i}`, 10 + i);
    const mixed: number[] = [];
    for (let r = 0; r < 2; r++) mixed.push(await decode(['a0', 'a1', 'a2', 'a3']));
    const ratio = Math.max(...mixed) / Math.max(...single);
    ctx.results['lora.llama-110m.adapter_push_ms'] = pushMs;
    ctx.results['lora.llama-110m.decode_single_tps'] = Math.max(...single);
    ctx.results['lora.llama-110m.decode_mixed_tps'] = Math.max(...mixed);
    ctx.results['lora.llama-110m.decode_mixed_ratio'] = ratio;
    return [
      [`llama-110M generator process (--max-adapters 4, --max-batch ${ROWS})`, '', ''],
      ['  adapter-only push, end to end', pushMs, `ms (median of ${PUSHES}; ${(steady[0]!.sent / 2 ** 20).toFixed(1)} MiB sent = adapter bytes ${steady[0]!.sent === steady[0]!.bytes ? 'yes' : 'NO'}; target < 50 ms ${pushMs < 50 ? 'met' : 'MISSED'})`],
      [`  decode, ${ROWS} rows on 1 adapter (1 held)`, Math.max(...single), `tokens/s (${NEW_TOKENS} new tokens each, best of 2)`],
      [`  decode, ${ROWS} rows on 4 adapters mixed`, Math.max(...mixed), 'tokens/s'],
      ['  mixed / single', `${(100 * ratio).toFixed(0)} %`, `target >= 80 % ${ratio >= 0.8 ? 'met' : 'MISSED'}`],
    ];
  } finally {
    g.close();
    await gen.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

export const loraSection: Section = async (ctx) => {
  const rows = await trainFigures('llama-110M', 'llama-110m', LLAMA_110M, 4, 128, ctx);
  if (process.env.JUICE_BENCH_LORA_LARGE === '1') rows.push(...(await trainFigures('llama-0.5B', 'llama-05b', LLAMA_05B, 2, 128, ctx)));
  else rows.push(['llama-0.5B train step', 'skipped', 'set JUICE_BENCH_LORA_LARGE=1 (full training needs ~10 GB and minutes)']);
  rows.push(...(await servingFigures(ctx)));
  table(rows);
};
