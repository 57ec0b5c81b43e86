// PoolWeights.push with the WeightSyncConfig options, against two real generators (the generator
// service's own code, in process, over loopback gRPC) on a tiny Llama: chunk_bytes bounds every chunk,
// two_phase false sends no separate activate, delta sends only the changed tensors (a frozen embedding)
// and the replicas then serve exactly the pushed weights and generate alike, a replica without the base
// gets the full push, and a push past timeout_seconds fails retryably with the old version still served.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultModel, DEFAULT_MODEL_CONFIG } from '@juice/models';
import { GeneratorService, WeightDeltaMode, type WeightChunk } from '@juice/proto';
import { createClient, createLogger, defineService, GeneratorPool, startServer, type RunningServer } from '@juice/service-kit';
import { oneReplica, PoolWeights, weightChunks, type NamedTensors, type PoolWeightsOptions, type PushCallOptions, type PushTensor, type WeightReplicaSet, type WeightTarget } from '../src/index.js';
import { ModelHost } from '../../../services/generator/src/model-host.js';
import { createGeneratorService } from '../../../services/generator/src/generator-service.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-push-options-')), 'model');
const log = createLogger('push-options-test', 'error', () => undefined);
let hosts: ModelHost[] = [];
let servers: RunningServer[] = [];
let gen: GeneratorPool;
const EMBED = 'model.embed_tokens.weight';

before(async () => {
  const config = { ...DEFAULT_MODEL_CONFIG, hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16 };
  createDefaultModel(dir, { corpus: Array.from({ length: 40 }, (_, i) => `What is ${i}+${i % 5}? ${i + (i % 5)}`), seed: 5, config });
  hosts = await Promise.all([0, 1].map(() => ModelHost.load({ modelDir: dir, maxBatch: 4, maxQueue: 16 })));
  servers = await Promise.all(hosts.map((h) => startServer({ name: 'generator', host: '127.0.0.1', port: 0, log, services: [defineService(GeneratorService, createGeneratorService(h))] })));
  gen = await GeneratorPool.open([servers.map((s) => s.address).join(',')], { reresolveMs: 0 });
});
after(async () => {
  gen?.close();
  await Promise.all(servers.map((s) => s.shutdown(0)));
  await Promise.all(hosts.map((h) => h.close()));
});

/** The model's tensors, each scaled by `by` (a fresh copy), except those named in `keep`. */
function weights(by: number, keep: ReadonlySet<string> = new Set(), from = hosts[0]!.model.params): Map<string, PushTensor> {
  return new Map(from.entries.map((e) => [e.name, { shape: e.shape, data: keep.has(e.name) ? from.view(e.name).slice() : from.view(e.name).map((x) => x * by) }]));
}

interface Calls {
  pushes: { header: WeightChunk['header']; chunkBytes: number[] }[];
  activates: number;
}

/** The pool's replicas, each wrapped to record what it is sent (and optionally to send slowly). */
function recorded(slowMs = 0): { pool: WeightReplicaSet<WeightTarget>; calls: Calls } {
  const calls: Calls = { pushes: [], activates: 0 };
  const wrap = (c: WeightTarget): WeightTarget => ({
    getWeightVersion: (req, o) => c.getWeightVersion(req, o),
    activateWeights: (req, o) => {
      calls.activates++;
      return c.activateWeights(req, o);
    },
    pushWeights: (chunks, o?: PushCallOptions) => {
      const all = [...chunks];
      calls.pushes.push({ header: all[0]!.header, chunkBytes: all.map((x) => x.tensors.reduce((a, p) => a + p.data.byteLength, 0)) });
      if (!slowMs) return c.pushWeights(all, o);
      const slow = (async function* () {
        for (const x of all) {
          await new Promise((r) => setTimeout(r, slowMs));
          yield x;
        }
      })();
      return c.pushWeights(slow as unknown as Iterable<WeightChunk>, o);
    },
  });
  return { pool: { each: (fn) => gen.pool.each((c) => fn(wrap(c as unknown as WeightTarget))) }, calls };
}

const served = (h: ModelHost) => h.weights.active;
async function greedy(address: string): Promise<number[][]> {
  const c = createClient(GeneratorService, address);
  try {
    const ids = hosts[0]!.model.tokenizer.encode('What is 3+4?', { addSpecialTokens: true });
    const res = await c.generate({ prompts: [{ kind: { case: 'tokens', value: { ids } } }], n: 1, sampling: { temperature: 0, maxNewTokens: 6 } });
    return res.results.map((r) => [...r.samples[0]!.tokenIds]);
  } finally {
    c.close();
  }
}
function assertServes(h: ModelHost, tensors: NamedTensors, what: string) {
  for (const [n, t] of tensors) assert.ok(Buffer.from(served(h).weights.get(n)!.buffer, served(h).weights.get(n)!.byteOffset, t.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${what}: ${n} differs from the pushed tensor`);
}

test('chunk_bytes bounds every chunk; two-phase stages then activates, one-phase sends no activate', async () => {
  const chunkBytes = 16 << 10;
  const w = weights(1.01);
  const total = [...w.values()].reduce((a, t) => a + t.data.byteLength, 0);
  const two = recorded();
  const r2 = await new PoolWeights({ chunk: { chunkBytes }, twoPhase: true }).push(two.pool, w, 'two-phase');
  assert.equal(r2.replicas, 2);
  assert.equal(r2.bytes, BigInt(2 * total));
  for (const p of two.calls.pushes) {
    assert.equal(p.header!.stageOnly, true);
    assert.ok(Math.max(...p.chunkBytes) <= chunkBytes, `largest chunk ${Math.max(...p.chunkBytes)} > ${chunkBytes}`);
    assert.equal(p.chunkBytes.length, Math.ceil(total / chunkBytes), 'chunks are filled up to chunk_bytes');
  }
  assert.equal(two.calls.activates, 2, 'one activate per replica');
  for (const h of hosts) assert.equal(served(h).number, r2.version);

  const one = recorded();
  const r1 = await new PoolWeights({ chunk: { chunkBytes: 64 << 10 }, twoPhase: false }).push(one.pool, weights(1.02), 'one-phase');
  assert.equal(r1.version, r2.version + 1n);
  assert.equal(one.calls.activates, 0, 'no separate activate call');
  assert.deepEqual(one.calls.pushes.map((p) => p.header!.stageOnly), [false, false]);
  assert.ok(one.calls.pushes.every((p) => Math.max(...p.chunkBytes) <= 64 << 10 && p.chunkBytes.length === Math.ceil(total / (64 << 10))));
  for (const h of hosts) assert.equal(served(h).number, r1.version);
  assert.equal(r1.activateSeconds, 0);
});

test('delta sends only the changed tensors; the replicas serve exactly the pushed weights; one without the base gets the full push', async () => {
  for (const twoPhase of [false, true]) {
    const weightsPool = new PoolWeights({ delta: true, twoPhase });
    const rec = recorded();
    const frozen = new Set([EMBED]);
    const v1 = weights(0.99);
    const full = await weightsPool.push(rec.pool, v1, 'v1');
    assert.equal(full.deltaReplicas, 0, 'the first push has no base: full');
    const fullBytes = full.bytes;
    // Everything trains but the embedding.
    const v2 = weights(0.98, frozen, { entries: hosts[0]!.model.params.entries, view: (n: string) => v1.get(n)!.data } as never);
    const delta = await weightsPool.push(rec.pool, v2, 'v2');
    const embedBytes = BigInt(v1.get(EMBED)!.data.byteLength);
    assert.equal(delta.deltaReplicas, 2);
    assert.equal(delta.tensorsSent, v2.size - 1);
    assert.equal(delta.bytes, fullBytes - 2n * embedBytes, 'the frozen embedding is not sent');
    assert.ok(rec.calls.pushes.slice(-2).every((p) => p.header!.deltaMode === WeightDeltaMode.REPLACE && p.header!.baseVersion === full.version));
    for (const h of hosts) {
      assert.equal(served(h).number, delta.version);
      assertServes(h, v2, `twoPhase ${twoPhase}`);
    }
    const [a, b] = await Promise.all(servers.map((s) => greedy(s.address)));
    assert.deepEqual(a, b);

    // Replica 1 moves to a version the pool never pushed (as if another writer or a restart): it does not
    // hold the base, so it takes the full push while replica 0 still takes the delta.
    const c1 = createClient(GeneratorService, servers[1]!.address);
    await c1.pushWeights([...weightChunks(weights(0.5), { version: delta.version + 1n })]);
    c1.close();
    const v3 = weights(0.97, frozen, { entries: hosts[0]!.model.params.entries, view: (n: string) => v2.get(n)!.data } as never);
    const mixed = await weightsPool.push(rec.pool, v3, 'v3');
    assert.equal(mixed.deltaReplicas, 1);
    assert.equal(mixed.bytes, fullBytes / 2n + (fullBytes / 2n - embedBytes));
    for (const h of hosts) assertServes(h, v3, 'after the mixed push');
    const [c, d] = await Promise.all(servers.map((s) => greedy(s.address)));
    assert.deepEqual(c, d, 'the delta replica and the full replica generate alike');
  }
});

test('a push past its timeout fails DEADLINE_EXCEEDED (retryable); the replicas keep serving the old version', async () => {
  const sync: PoolWeightsOptions = { chunk: { chunkBytes: 16 << 10 }, twoPhase: true, timeoutMs: 300 };
  const weightsPool = new PoolWeights(sync);
  const before = hosts.map((h) => served(h));
  const slow = recorded(60); // ~20 chunks × 60 ms ≫ 300 ms
  await assert.rejects(weightsPool.push(slow.pool, weights(3), 'too slow'), (e: Error & { code?: number; retryable?: boolean }) => {
    assert.equal(e.code, 4, e.message);
    assert.equal(e.retryable, true);
    assert.match(e.message, /timeout_seconds/);
    return true;
  });
  assert.equal(slow.calls.activates, 0, 'nothing activated');
  hosts.forEach((h, i) => {
    assert.equal(served(h).number, before[i]!.number, 'old version still served');
    assert.equal(served(h).weights, before[i]!.weights);
    assert.equal(h.weights.staged, undefined, 'nothing staged from the cut-off push');
  });
  // The same pool pushes again once the replicas answer in time (they were set aside and are re-admitted).
  const c0 = createClient(GeneratorService, servers[0]!.address);
  try {
    const ok = await new PoolWeights({ ...sync, timeoutMs: 30_000 }).push(oneReplica(c0), weights(1.5), 'in time');
    assert.equal(served(hosts[0]!).number, ok.version);
  } finally {
    c0.close();
  }
});
