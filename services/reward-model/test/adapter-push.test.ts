// The reward model's adapter-only push in process: the scoring worker is sent the adapter's stacks and
// the score head only (no base tensor), rewards equal the merged reward weights served by a full push,
// and header mistakes are refused naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createDefaultModel, initLora, mergeLora, type LoraSpec } from '@juice/models';
import { LoraConfigSchema, type WeightChunk } from '@juice/proto';
import { acceptWeightPush, weightChunks } from '@juice/weight-sync';
import type { ParamSet } from '@juice/optim';
import { pushedHeadName, pushRewardAdapter } from '../src/adapter-push.js';
import { RewardHost } from '../src/reward-host.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-rm-adapter-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 100 }, (_, i) => `What is ${i}+1? ${i + 1}`), seed: 2 });
const spec: LoraSpec = { rank: 2, alpha: 4, targetModules: ['q_proj', 'down_proj'] };

function chunksOf(tensors: Map<string, Float32Array>, shapes: Map<string, readonly number[]>, version: bigint, header: Record<string, unknown> = {}): WeightChunk[] {
  const chunks = [...weightChunks(new Map([...tensors].map(([n, data]) => [n, { shape: shapes.get(n)!, data }])), { version })];
  Object.assign(chunks[0]!.header!, header);
  return chunks;
}
const stream = (c: WeightChunk[]) => (async function* () { yield* c; })();
const lora = create(LoraConfigSchema, { rank: spec.rank, alpha: spec.alpha, targetModules: [...spec.targetModules!] });
const seqs = [[1, 5, 9, 30], [2, 7, 7]];

test('an adapter push pins the adapter only; rewards equal the merged weights; bad headers are refused by field', async () => {
  const host = await RewardHost.load(dir);
  const other = await RewardHost.load(dir);
  try {
    const c = host.model.config;
    const adapters: ParamSet = initLora(c, spec, 4);
    for (const e of adapters.entries) if (e.name.includes('lora_B')) adapters.view(e.name).forEach((_, k, v) => (v[k] = 0.2 * Math.cos(k)));
    const head = Float32Array.from({ length: c.hiddenSize }, (_, i) => Math.sin(i));
    const tensors = new Map(adapters.entries.map((e) => [e.name, adapters.view(e.name)]));
    const shapes = new Map(adapters.entries.map((e) => [e.name, e.shape]));
    tensors.set(pushedHeadName(host), head);
    shapes.set(pushedHeadName(host), [1, c.hiddenSize]);
    const before = await host.score(seqs);

    const res = await pushRewardAdapter(host, chunksOf(tensors, shapes, 1n, { loraAdapterOnly: true, lora })[0]!, stream(chunksOf(tensors, shapes, 1n, { loraAdapterOnly: true, lora })), new AbortController().signal);
    assert.equal(Number(res.bytes), [...tensors.values()].reduce((a, t) => a + t.byteLength, 0));
    const stackBytes = [...host.weights.active.weights].filter(([n]) => n.includes('_stack')).reduce((a, [, t]) => a + t.byteLength, 0);
    assert.deepEqual(host.lastServe, { tensors: host.weights.active.weights.size - host.params.entries.length + 1, bytes: stackBytes + head.byteLength }, 'only the stacks and the head went to the worker');

    // The merged reward weights on a second host, pushed in full.
    const params = host.params;
    const merged = mergeLora(c, params, adapters, spec);
    merged.set('score.weight', head);
    await acceptWeightPush(other.weights, stream(chunksOf(new Map(merged.entries.map((e) => [e.name, merged.view(e.name)])), new Map(merged.entries.map((e) => [e.name, e.shape])), 1n)), { expected: other.shapes, serve: (v, w) => other.serve(w, v) });
    const [got, want] = [await host.score(seqs), await other.score(seqs)];
    got.forEach((g, i) => {
      assert.ok(Math.abs(g.reward - want[i]!.reward) <= 1e-5 * Math.max(1, Math.abs(want[i]!.reward)), `${g.reward} vs ${want[i]!.reward}`);
      assert.ok(Math.abs(g.reward - before[i]!.reward) > 1e-3, 'the adapter changes the reward');
      assert.equal(g.version, 1n);
    });

    const refused = async (header: Record<string, unknown>, t: Map<string, Float32Array>, field: RegExp) => {
      const ch = chunksOf(t, shapes, 2n, { loraAdapterOnly: true, lora, ...header });
      await assert.rejects(pushRewardAdapter(host, ch[0]!, stream(ch), new AbortController().signal), (e: Error & { grpcCode?: string; code?: string }) => field.test(e.message));
    };
    await refused({ adapterName: 'second' }, tensors, /header\.adapter_name: .*one adapter/);
    await refused({ lora: create(LoraConfigSchema, { rank: spec.rank, alpha: spec.alpha, targetModules: ['nope'] }) }, tensors, /header\.lora\.target_modules/);
    const noB = new Map([...tensors].filter(([n]) => !n.endsWith('lora_B.weight')));
    await refused({}, noB, /header\.total_tensors/);
    assert.equal(host.weights.active.number, 1n, 'refused pushes change nothing');
  } finally {
    await Promise.all([host.close(), other.close()]);
  }
});
