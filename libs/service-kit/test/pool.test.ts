// ServicePool over real gRPC (in-process fake generators on loopback): every address of a name, work
// split by load, a failed replica's share redone elsewhere, and (with PoolWeights) one version on all,
// a restarted replica brought to it before it takes work.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GeneratorService, type WeightChunk } from '@juice/proto';
import { PoolWeights, pushNextVersion } from '@juice/weight-sync';
import { createLogger, defineService, endpointList, resolveEndpoints, ServicePool, shareCounts, startServer, status, ServiceError, type PoolEvent, type RunningServer } from '../src/index.js';

const log = createLogger('pool-test', 'error', () => undefined);

interface Fake {
  server: RunningServer;
  active: bigint;
  staged: bigint;
  prompts: number;
  pushes: { stageOnly: boolean; version: bigint }[];
  /** Make Generate fail like a dying replica. */
  die?: boolean;
}

async function fakeGenerator(port = 0): Promise<Fake> {
  const f = { active: 0n, staged: 0n, prompts: 0, pushes: [] } as unknown as Fake;
  f.server = await startServer({
    name: 'fake-generator',
    host: '127.0.0.1',
    port,
    log,
    services: [
      defineService(GeneratorService, {
        async getWeightVersion() {
          return { active: { number: f.active }, staged: f.staged ? { number: f.staged } : undefined };
        },
        async pushWeights(chunks: AsyncIterable<WeightChunk>) {
          let bytes = 0n;
          let header: WeightChunk['header'];
          for await (const c of chunks) {
            header ??= c.header;
            for (const p of c.tensors) bytes += BigInt(p.data.byteLength);
          }
          const v = header!.version!.number;
          f.pushes.push({ stageOnly: header!.stageOnly, version: v });
          if (header!.stageOnly) f.staged = v;
          else f.active = v;
          return { bytes, activated: !header!.stageOnly, acceptedVersion: { number: v } };
        },
        async activateWeights(req) {
          if (req.version !== f.staged && req.version !== f.active) throw new ServiceError(status.NOT_FOUND, `version ${req.version} is not staged`);
          f.active = req.version;
          f.staged = 0n;
          return { active: { number: f.active } };
        },
        async generate(req) {
          if (f.die) throw new ServiceError(status.UNAVAILABLE, 'going away');
          if (req.minWeightVersion > f.active) throw new ServiceError(status.FAILED_PRECONDITION, `min_weight_version ${req.minWeightVersion} not served`);
          f.prompts += req.prompts.length;
          return { weightVersion: { number: f.active }, results: req.prompts.map((p) => ({ samples: [{ tokenIds: p.kind.case === 'tokens' ? p.kind.value.ids : [], weightVersion: f.active }] })) };
        },
      }),
    ],
  });
  return f;
}

const tensors = new Map([['w', { shape: [4, 4], data: new Float32Array(16).fill(0.5) }]]);
const prompts = Array.from({ length: 30 }, (_, i) => i);

function generateOver(pool: ServicePool<typeof GeneratorService>, version: bigint) {
  return pool.spread(prompts, async (c, share) => {
    const res = await c.generate({ prompts: share.map((i) => ({ kind: { case: 'tokens', value: { ids: [i] } } })), n: 1, minWeightVersion: version });
    return res.results.map((r) => ({ id: r.samples[0]!.tokenIds[0], version: r.samples[0]!.weightVersion }));
  });
}

describe('ServicePool', () => {
  const fakes: Fake[] = [];
  after(async () => {
    for (const f of fakes) await f.server.shutdown(0);
  });

  it('shares by load: the least loaded get the most, all items handed out', () => {
    assert.deepEqual(shareCounts(30, [0, 0, 0]), [10, 10, 10]);
    assert.deepEqual(shareCounts(10, [4, 0, 0]), [1, 5, 4]);
    assert.deepEqual(shareCounts(3, [9, 0, 0]), [0, 2, 1]);
    assert.deepEqual(shareCounts(7, [0]), [7]);
    assert.deepEqual(endpointList(['a:1,b:2', undefined, ' c:3 ']), ['a:1', 'b:2', 'c:3']);
  });

  it('resolves dns:/// to every address and refuses other schemes', async () => {
    const got = await resolveEndpoints(['dns:///svc.ns:50051', '10.0.0.9:1'], async (h) => (h === 'svc.ns' ? ['10.0.0.1', '10.0.0.2', '::1'] : []));
    assert.deepEqual(got, ['10.0.0.1:50051', '10.0.0.2:50051', '[::1]:50051', '10.0.0.9:1']);
    await assert.rejects(resolveEndpoints(['unix:///tmp/x']), /expected host:port or dns:\/\/\/name:port/);
    // The real resolver: localhost is at least one address.
    assert.ok((await resolveEndpoints(['dns:///localhost:1'])).length >= 1);
  });

  it('pushes one version to all (stage, then activate), spreads work, survives a dead replica and re-admits a restarted one', async () => {
    for (let i = 0; i < 3; i++) fakes.push(await fakeGenerator());
    fakes[1]!.active = 4n; // one replica already holds a higher version: the pool's version goes above it
    const weights = new PoolWeights({ chunk: { chunkBytes: 1024 } });
    const events: PoolEvent[] = [];
    const pool = await ServicePool.open(GeneratorService, [fakes.map((f) => f.server.address).join(',')], { admit: (r) => weights.admit(r.client), onEvent: (e) => events.push(e), reresolveMs: 0 });
    try {
      assert.equal(pool.ready().length, 3);
      const pushed = await weights.push(pool, tensors, 'job/stage0');
      assert.equal(pushed.version, 5n);
      assert.equal(pushed.replicas, 3);
      assert.equal(pushed.bytes, 3n * 64n);
      for (const f of fakes) {
        assert.equal(f.active, 5n);
        assert.deepEqual(f.pushes.at(-1), { stageOnly: true, version: 5n });
      }
      const out = await generateOver(pool, 5n);
      assert.deepEqual(out.map((o) => o.id), prompts);
      assert.ok(out.every((o) => o.version === 5n));
      assert.deepEqual(fakes.map((f) => f.prompts), [10, 10, 10]);

      // A replica that fails mid-call: its share is redone on the others, and the pool says so.
      fakes[0]!.die = true;
      const again = await generateOver(pool, 5n);
      assert.deepEqual(again.map((o) => o.id), prompts);
      assert.equal(pool.ready().length, 2);
      assert.ok(events.some((e) => e.kind === 'down' && e.address === fakes[0]!.server.address && e.ready === 2));
      assert.equal(fakes[1]!.prompts + fakes[2]!.prompts, 50);

      // It restarts on its port with no weights: refresh admits it only after it serves version 5.
      const port = fakes[0]!.server.port;
      await fakes[0]!.server.shutdown(0);
      fakes[0] = await fakeGenerator(port);
      await pool.refresh();
      assert.equal(fakes[0]!.active, 5n);
      assert.equal(pool.ready().length, 3);
      await generateOver(pool, 5n);
      assert.equal(fakes[0]!.prompts, 10);

      // The pool as the trainer's one push target: next version, staged on all, then activated on all.
      const next = await pushNextVersion(weights.target(pool), tensors, { label: 'job/stage1' });
      assert.equal(next.version, 6n);
      assert.equal(next.bytes, 3n * 64n);
      for (const f of fakes) assert.deepEqual([f.active, f.pushes.at(-1)], [6n, { stageOnly: true, version: 6n }]);
    } finally {
      pool.close();
    }
  });
});
