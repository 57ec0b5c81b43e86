// The serving roles over real gRPC on loopback, each its own process, on the embedded default model:
// generation tokens/s for one caller, 16 callers one after another, and 16 concurrent callers (dynamic
// batching); Score sequences/s at batch 32 over gRPC against the same work in-process (gRPC overhead).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRoleProcess } from '@juice/cli';
import { buildRewardModel, createDefaultModel, DEFAULT_MODEL_CONFIG, encodePromptResponse, loadModel, rewardParameterShapes } from '@juice/models';
import { toModelBytes } from '@juice/onnx';
import { ParamSet } from '@juice/optim';
import { GeneratorService, RewardModelService } from '@juice/proto';
import { createSession } from '@juice/runtime';
import { createClient } from '@juice/service-kit';
import { median, table, type Section } from './types.js';

export const servingSection: Section = async (ctx) => {
  const base = mkdtempSync(join(tmpdir(), 'juice-bench-'));
  const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i}+${i % 7}? ${i}+${i % 7}=${i + (i % 7)}`);
  const dir = join(base, 'default');
  createDefaultModel(dir, { corpus, seed: 1 });
  // Score is measured on a 25 M-parameter reward backbone: on the 0.8 M default a forward is ~5 ms, so
  // any fixed per-call cost (~1 ms for a gRPC round trip here) would dominate the ratio.
  const rmDir = join(base, 'reward-25m');
  createDefaultModel(rmDir, { corpus, seed: 2, config: { ...DEFAULT_MODEL_CONFIG, hiddenSize: 512, intermediateSize: 1376, numLayers: 8, numHeads: 8, numKvHeads: 8, headDim: 64 } });
  const [gen, rm] = await Promise.all([startRoleProcess('generator', ['--model', dir, '--max-batch', '16']), startRoleProcess('reward-model', ['--model', rmDir, '--max-batch', '32'])]);
  const g = createClient(GeneratorService, gen.address);
  const r = createClient(RewardModelService, rm.address);
  try {
    const ask = (i: number) => g.generate({ prompts: [{ kind: { case: 'text', value: `What is ${i}+${i % 7}?` } }], sampling: { temperature: 1, seed: BigInt(i), maxNewTokens: 64, ignoreEos: true } });
    await ask(0);
    const tps = async (run: () => Promise<unknown>, tokens: number) => {
      const t = performance.now();
      await run();
      return tokens / ((performance.now() - t) / 1000);
    };
    const one = await tps(() => ask(1), 64);
    const sequential = await tps(async () => {
      for (let i = 0; i < 16; i++) await ask(i);
    }, 16 * 64);
    const concurrent = await tps(() => Promise.all(Array.from({ length: 16 }, (_, i) => ask(i))), 16 * 64);
    ctx.results['serving.generate.concurrent16_tps'] = concurrent;

    // Score: batch 32 over gRPC vs the same forward in-process.
    const items = Array.from({ length: 32 }, (_, i) => ({ prompt: { kind: { case: 'text' as const, value: `What is ${i}+1?` } }, response: { kind: { case: 'text' as const, value: ` ${i + 1}` } } }));
    const grpcMs: number[] = [];
    for (let k = 0; k < 12; k++) {
      const t = performance.now();
      await r.score({ items });
      grpcMs.push(performance.now() - t);
    }
    const lm = loadModel(rmDir);
    const params = new ParamSet(rewardParameterShapes(lm.config));
    for (const e of params.entries) if (lm.params.has(e.name)) params.set(e.name, lm.params.view(e.name));
    const session = await createSession(toModelBytes(buildRewardModel(lm.config).graph));
    const feeds = Object.fromEntries(params.entries.map((e) => [e.name, { data: params.view(e.name), dims: e.shape as number[] }]));
    const localMs: number[] = [];
    for (let k = 0; k < 12; k++) {
      const t = performance.now();
      const seqs = items.map((it, i) => encodePromptResponse(lm.tokenizer, it.prompt as never, it.response as never, `items[${i}]`));
      const T = Math.max(...seqs.map((s) => s.length));
      const ids = new BigInt64Array(32 * T);
      const mask = new BigInt64Array(32 * T);
      seqs.forEach((s, b) => s.forEach((x, j) => ((ids[b * T + j] = BigInt(x)), (mask[b * T + j] = 1n))));
      await session.run({ ...feeds, input_ids: { data: ids, dims: [32, T] }, attention_mask: { data: mask, dims: [32, T] } });
      localMs.push(performance.now() - t);
    }
    const gm = median(grpcMs.slice(2));
    const lmMs = median(localMs.slice(2));
    table([
      ['Generate, 1 caller, 64 new tokens', one, 'tokens/s'],
      ['Generate, 16 callers one after another', sequential, 'tokens/s'],
      ['Generate, 16 concurrent callers (dynamic batching)', concurrent, `tokens/s (${(concurrent / sequential).toFixed(1)}x)`],
      ['Score, batch 32, 25 M reward model, over gRPC', (32 * 1000) / gm, 'sequences/s'],
      ['Score, batch 32, in-process', (32 * 1000) / lmMs, 'sequences/s'],
      ['gRPC overhead on Score', `${((100 * (gm - lmMs)) / lmMs).toFixed(1)}%`, 'target < 5%'],
    ]);
  } finally {
    g.close();
    r.close();
    await Promise.all([gen.stop(), rm.stop()]);
  }
};
