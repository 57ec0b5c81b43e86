// A Python grpcio client generated from the proto files alone calls Generate and Score; its answers
// equal juice's own client's. Runs where Debian's python3-grpcio and python3-protobuf are installed
// (.ci/run installs them).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDefaultModel } from '@juice/models';
import { GeneratorService, RewardModelService } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const python = '/usr/bin/python3';
const available = spawnSync(python, ['-c', 'import grpc, google.protobuf'], { stdio: 'ignore' }).status === 0;
const root = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'juice-foreign-'));
let gen: RunningRole;
let rm: RunningRole;

before(async () => {
  if (!available) return;
  const dir = join(work, 'model');
  createDefaultModel(dir, { corpus: ['What is 2+3? 5', 'hello'], seed: 2 });
  [gen, rm] = await Promise.all([startRole('generator', ['--model', dir]), startRole('reward-model', ['--model', dir])]);
});
after(async () => {
  await Promise.all([gen?.stop(), rm?.stop()]);
});

test('a Python grpcio client built from the .proto files calls Generate and Score', { skip: available ? false : 'python3-grpcio / python3-protobuf not installed' }, async () => {
  const descriptors = join(work, 'juice.binpb');
  execFileSync(join(root, 'node_modules/.bin/buf'), ['build', 'proto', '-o', descriptors, '--path', 'proto/juice'], { cwd: root });
  const out = JSON.parse(execFileSync(python, [join(root, 'test/foreign/python_client.py'), descriptors, gen.address, rm.address], { encoding: 'utf8' })) as {
    generate: { token_ids: number[]; text: string };
    score: { reward: number };
    empty_score: { code: string; details: string };
  };
  const g = createClient(GeneratorService, gen.address);
  const r = createClient(RewardModelService, rm.address);
  try {
    const mine = await g.generate({ prompts: [{ kind: { case: 'text', value: 'What is 2+3?' } }], sampling: { temperature: 0, maxNewTokens: 8, ignoreEos: true } });
    assert.deepEqual(out.generate.token_ids, mine.results[0]!.samples[0]!.tokenIds);
    assert.equal(out.generate.text, mine.results[0]!.samples[0]!.text);
    const score = await r.score({ items: [{ prompt: { kind: { case: 'text', value: 'What is 2+3?' } }, response: { kind: { case: 'text', value: ' 5' } } }] });
    assert.ok(Math.abs(out.score.reward - score.results[0]!.reward) < 1e-6);
    assert.equal(out.empty_score.code, 'INVALID_ARGUMENT');
    assert.match(out.empty_score.details, /items/);
  } finally {
    g.close();
    r.close();
  }
});
