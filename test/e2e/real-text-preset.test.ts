// The real-text preset end to end, as a user runs it: `juice run --quick --corpus wordnet --pretrain austen`
// first pretrains a base on Jane Austen (an ALGORITHM_PRETRAIN job; its tokenizer trained on the novels)
// into an empty base store, then SFT on WordNet definitions starts from that base and IRFT, RFT and the
// control from SFT; a second run with the same pretraining plan and seed reuses the stored base. Skipped,
// with the reason, when the Debian packages (r-cran-janeaustenr, wordnet-base) are not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AUSTEN_SOURCE, WORDNET_SOURCE } from '@juice/data';
import type { RunResult } from '../../libs/cli/src/pipeline/result.js';

const bin = fileURLToPath(new URL('../../libs/cli/bin/juice.mjs', import.meta.url));
const missing = [`${AUSTEN_SOURCE.defaultPath}.rdb`, join(WORDNET_SOURCE.defaultPath, 'data.noun')].filter((f) => !existsSync(f));
const skip = missing.length ? `the corpora packages are not installed (${missing.join(', ')} missing; ${AUSTEN_SOURCE.install}, ${WORDNET_SOURCE.install})` : false;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('juice run --quick --corpus wordnet --pretrain austen: the base is pretrained (loss falls) and stored, every arm starts from it, a second run reuses it', { skip, timeout: 1_200_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'juice-preset-'));
  const store = join(work, 'bases');
  const first = await run(['run', '--quick', '--corpus', 'wordnet', '--pretrain', 'austen', '--base-store', store, '--out', join(work, 'run1')]);
  assert.equal(first.code, 0, `juice run failed:\n${first.stdout.slice(-3000)}\n${first.stderr.slice(-3000)}`);
  const made = /pretrain: base stored in (\S+) \(loss ([\d.]+) → ([\d.]+)/.exec(first.stdout);
  assert.ok(/pretrain: no cached base/.test(first.stdout) && made, first.stdout.slice(0, 2000));
  const [, baseDir, lossFirst, lossLast] = made;
  assert.ok(Number(lossLast) < Number(lossFirst) - 0.3, `pretraining loss fell: ${lossFirst} → ${lossLast}`);
  const info = JSON.parse(readFileSync(join(baseDir!, 'juice-base.json'), 'utf8'));
  assert.equal(info.corpus, 'austen');
  assert.equal(info.plan.config.maxPositions, 256);
  assert.ok(!existsSync(join(baseDir!, 'trainer_state.json')), 'the stored base is a model, not a resumable job');

  const r1 = JSON.parse(readFileSync(join(work, 'run1', 'results.json'), 'utf8')) as RunResult;
  assert.equal(r1.model, baseDir, 'SFT started from the pretrained base');
  for (const a of r1.arms) assert.equal(a.status, 'ok', `${a.name}: ${a.note}`);
  // The paper's Figure 1 quantity: each arm's log-prob gap between the held-out demonstration and SFT's answer.
  for (const a of r1.arms) assert.ok(Number.isFinite(a.margin?.logpGap), `${a.name} log-prob gap`);
  assert.match(first.stdout, /log π\(demonstration\) − log π\(SFT's answer\)/);

  // A second run with other arm settings but the same pretraining plan and seed: nothing is pretrained.
  const second = await run(['run', '--quick', '--corpus', 'wordnet', '--pretrain', 'austen', '--base-store', store, '--out', join(work, 'run2'), '--train-size', '100', '--eval-size', '20', '--sft-steps', '5', '--stages', '1', '--steps-per-stage', '2', '--rft-rounds', '1']);
  assert.equal(second.code, 0, second.stdout.slice(-3000));
  assert.ok(second.stdout.includes(`pretrain: reusing the cached base ${baseDir}`), second.stdout.slice(0, 2000));
  assert.ok(!/no cached base/.test(second.stdout));
  const r2 = JSON.parse(readFileSync(join(work, 'run2', 'results.json'), 'utf8')) as RunResult;
  assert.equal(r2.model, baseDir);
});
