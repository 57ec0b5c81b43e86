// Training processes, juice against PyTorch eager, for the train-step model (D512 L4 T128 B8) and a ~110 M
// Llama (the generation section's: D768 L12, vocab 32000, tied; T256 B4): step time and peak RSS, each
// training run in a process of its own (train-child.ts; bench/torch/compare.py --train), so a peak RSS
// belongs to one model in one engine. The two engines alternate, juice then PyTorch, ROUNDS times, one
// process at a time, so both see the same neighbours; times are the median over rounds of each
// process's best step, RSS the largest over rounds. Not in the CI guard (minutes for the 110 M model).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parameterCount, type ModelConfig } from '@juice/models';
import { torchEnv, torchAvailable } from './torch.js';
import type { TrainChildRequest, TrainChildResult } from './train-child.js';
import { median, table, type Section } from './types.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const D512: ModelConfig = {
  architecture: 'llama', vocabSize: 512, hiddenSize: 512, intermediateSize: 1376, numLayers: 4, numHeads: 8, numKvHeads: 8,
  headDim: 64, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 256, tieWordEmbeddings: false, qkvBias: false,
};
const LLAMA_110M: ModelConfig = {
  architecture: 'llama', vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 12,
  headDim: 64, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositions: 2048, tieWordEmbeddings: true, qkvBias: false,
};

interface Case {
  slug: string;
  config: ModelConfig;
  batch: number;
  seqLen: number;
  steps: number;
  rounds: number;
}
const CASES: Case[] = [
  { slug: 'd512', config: D512, batch: 8, seqLen: 128, steps: 4, rounds: 3 },
  { slug: 'llama-110M', config: LLAMA_110M, batch: 4, seqLen: 256, steps: 2, rounds: 2 },
];

interface Figures {
  stepMs: number;
  adamwMs: number;
  maxRssBytes: number;
  /** juice only: RSS after each phase of the child. */
  phases?: TrainChildResult['rssMb'];
}

function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve(out.trim().split('\n').at(-1)!) : reject(new Error(`${cmd} ${args[0]} exited with ${code ?? signal}`))));
  });
}

async function juice(c: Case): Promise<Figures> {
  const req: TrainChildRequest = { config: c.config, batch: c.batch, seqLen: c.seqLen, steps: c.steps };
  const r = JSON.parse(await runProcess(process.execPath, [...process.execArgv, join(HERE, 'train-child.ts'), JSON.stringify(req)], process.env)) as TrainChildResult;
  return { stepMs: r.stepBestMs, adamwMs: r.adamwMs, maxRssBytes: r.maxRssBytes, phases: r.rssMb };
}

async function torch(c: Case): Promise<Figures> {
  const m = c.config;
  const req = { vocab: m.vocabSize, d: m.hiddenSize, inter: m.intermediateSize, layers: m.numLayers, heads: m.numHeads, tied: m.tieWordEmbeddings, batch: c.batch, seq: c.seqLen, steps: c.steps };
  const r = JSON.parse(await runProcess('/usr/bin/python3', [join(HERE, '..', 'torch', 'compare.py'), '--train', JSON.stringify(req)], torchEnv())) as Record<string, number>;
  return { stepMs: r.step_best_ms!, adamwMs: r.adamw_ms!, maxRssBytes: r.max_rss_bytes! };
}

const mb = (b: number) => b / 2 ** 20;

export const trainMemorySection: Section = async (ctx) => {
  const withTorch = torchAvailable();
  const rows: [string, string | number, string?][] = [['', 'juice', withTorch ? 'PyTorch   juice/PyTorch' : '(PyTorch unavailable)']];
  for (const c of CASES) {
    const j: Figures[] = [];
    const t: Figures[] = [];
    for (let r = 0; r < c.rounds; r++) {
      j.push(await juice(c));
      if (withTorch) t.push(await torch(c));
    }
    const jf = { stepMs: median(j.map((x) => x.stepMs)), adamwMs: median(j.map((x) => x.adamwMs)), maxRssBytes: Math.max(...j.map((x) => x.maxRssBytes)) };
    const tf = t.length ? { stepMs: median(t.map((x) => x.stepMs)), adamwMs: median(t.map((x) => x.adamwMs)), maxRssBytes: Math.max(...t.map((x) => x.maxRssBytes)) } : undefined;
    const key = `train-memory.${c.slug}`;
    ctx.results[`${key}.step_ms`] = jf.stepMs;
    ctx.results[`${key}.adamw_ms`] = jf.adamwMs;
    ctx.results[`${key}.max_rss_mb`] = mb(jf.maxRssBytes);
    if (tf) {
      ctx.results[`${key}.torch.step_ms`] = tf.stepMs;
      ctx.results[`${key}.torch.adamw_ms`] = tf.adamwMs;
      ctx.results[`${key}.torch.max_rss_mb`] = mb(tf.maxRssBytes);
      ctx.results[`ratio.${key}.step`] = tf.stepMs / jf.stepMs;
      ctx.results[`ratio.${key}.adamw`] = tf.adamwMs / jf.adamwMs;
      ctx.results[`ratio.${key}.rss`] = tf.maxRssBytes / jf.maxRssBytes;
    }
    const side = (x: number | undefined, ratio: number | undefined, unit: string) => (x === undefined ? unit : `${x.toFixed(1).padStart(8)}   ${ratio!.toFixed(2)}x ${unit}`);
    rows.push([`${c.slug}: ${(parameterCount(c.config) / 1e6).toFixed(1)} M params, T${c.seqLen} B${c.batch}, ${c.rounds} processes each, alternated`, '', '']);
    rows.push(['  step fwd+CE+bwd (median of each process\'s best)', jf.stepMs, side(tf?.stepMs, tf && tf.stepMs / jf.stepMs, 'ms (>1x = juice faster)')]);
    rows.push(['  AdamW over every parameter (median)', jf.adamwMs, side(tf?.adamwMs, tf && tf.adamwMs / jf.adamwMs, 'ms (>1x = juice faster)')]);
    rows.push(['  peak RSS of the training process', mb(jf.maxRssBytes), side(tf && mb(tf.maxRssBytes), tf && tf.maxRssBytes / jf.maxRssBytes, 'MiB (>1x = juice smaller)')]);
    const ph = j.at(-1)!.phases!;
    rows.push(['  juice RSS after: start, params, session, AdamW state, first step, end', '', `${[ph.start, ph.params, ph.session, ph.optimizer, ph.firstStep, ph.end].map((x) => x.toFixed(0)).join(', ')} MiB`]);
  }
  table(rows);
};
