// The pretrained base of the real-text preset (`juice run --corpus wordnet --pretrain austen`, and
// `juice pretrain`): a small Llama-style model whose tokenizer is trained on Jane Austen's novels
// (r-cran-janeaustenr, read without R), pretrained by an ALGORITHM_PRETRAIN job (next-token loss on the
// chapters packed into max_length windows) on a trainer started for it. The result is kept in the base
// store (a directory of HF model directories, one per key), keyed by the corpus, its version, the
// pretraining plan (model config, steps, rates, documents) and the seed: a later run with the same key
// reuses it and says so, whatever its --out. SFT, IRFT, RFT and the control then start from it.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { CORPORA_VERSION, CorpusNotInstalledError, novelToDocuments, readAustenNovels, writePretrainCorpus, type TextDocument } from '@juice/data';
import { createDefaultModel, DEFAULT_MODEL_CONFIG, type ModelConfig } from '@juice/models';
import { Algorithm, DataSchema, LrSchedule, TrainerService } from '@juice/proto';
import { ConfigError, createClient } from '@juice/service-kit';
import { runJob } from './jobs.js';
import { RunServices } from './services.js';

export interface PretrainPlan {
  /** The base's architecture (its tokenizer's vocabulary is config.vocabSize). */
  config: ModelConfig;
  steps: number;
  /** Windows per step. */
  batchSize: number;
  /** Tokens per packed window (≤ config.maxPositions). */
  maxLength: number;
  learningRate: number;
  warmupSteps: number;
  /** Chapters used (in the package's order, before the validation split); 0 = all of them. */
  documents: number;
  /** Share of chapters held out for the job's eval/loss. */
  validationFraction: number;
}

const llama = (c: Partial<ModelConfig>): ModelConfig => ({ ...DEFAULT_MODEL_CONFIG, ...c });

/** About 5 M parameters (D 256, 6 layers, GQA 8/4, vocab 2048, context 256), 600 steps of 8 × 256 tokens. */
export const PRETRAIN_PLAN: PretrainPlan = {
  config: llama({ vocabSize: 2048, hiddenSize: 256, intermediateSize: 704, numLayers: 6, numHeads: 8, numKvHeads: 4, headDim: 32, maxPositions: 256 }),
  steps: 600,
  batchSize: 8,
  maxLength: 256,
  learningRate: 1e-3,
  warmupSteps: 30,
  documents: 0,
  validationFraction: 0.02,
};

/** --quick: a 2-layer D-64 base (context 256) on 40 chapters for 40 steps, to test the path in seconds. */
export const QUICK_PRETRAIN_PLAN: PretrainPlan = {
  config: llama({ vocabSize: 512, hiddenSize: 64, intermediateSize: 176, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 32, maxPositions: 256 }),
  steps: 40,
  batchSize: 8,
  maxLength: 128,
  learningRate: 3e-3,
  warmupSteps: 4,
  documents: 40,
  validationFraction: 0.1,
};

/** The base store's default place: $JUICE_BASE_STORE, else <XDG cache>/juice/bases. */
export function defaultBaseStore(env: NodeJS.ProcessEnv = process.env): string {
  return env.JUICE_BASE_STORE || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'juice', 'bases');
}

export interface BaseInfo {
  key: string;
  corpus: 'austen';
  corporaVersion: string;
  seed: number;
  plan: PretrainPlan;
  parameters: number;
  documents: { train: number; validation: number };
  jobId: string;
  /** Mean training loss over the first and the last 5 steps. */
  loss: { first: number; last: number };
  seconds: number;
  createdAt: string;
}

export interface PretrainedBase {
  dir: string;
  /** True when the base store already held it (nothing was trained). */
  cached: boolean;
  info: BaseInfo;
}

export interface BaseOptions {
  store: string;
  plan: PretrainPlan;
  seed: number;
  say: (line: string) => void;
  signal?: AbortSignal;
  /** The janeaustenr data base (without .rdb/.rdx); default the package's. */
  austenPath?: string;
}

/** The cache key: everything that decides the base's weights. */
export function baseKey(o: Pick<BaseOptions, 'plan' | 'seed'>): string {
  return createHash('sha256').update(JSON.stringify({ corpus: 'austen', corporaVersion: CORPORA_VERSION, plan: o.plan, seed: o.seed })).digest('hex').slice(0, 16);
}

function parameterCount(c: ModelConfig): number {
  const attn = c.hiddenSize * c.numHeads * c.headDim * 2 + c.hiddenSize * c.numKvHeads * c.headDim * 2;
  const layer = attn + 3 * c.hiddenSize * c.intermediateSize + 2 * c.hiddenSize;
  return c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2) + c.numLayers * layer + c.hiddenSize;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** The base for (corpus, plan, seed): from the base store, or pretrained now and stored. */
export async function pretrainedBase(o: BaseOptions): Promise<PretrainedBase> {
  if (o.plan.maxLength > o.plan.config.maxPositions) throw new ConfigError(`pretraining windows of ${o.plan.maxLength} tokens exceed the base's context of ${o.plan.config.maxPositions}`);
  const key = baseKey(o);
  const store = resolve(o.store);
  const dir = join(store, `austen-${key}`);
  const infoFile = join(dir, 'juice-base.json');
  if (existsSync(infoFile)) {
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as BaseInfo;
    o.say(`pretrain: reusing the cached base ${dir} (Austen, key ${key}, seed ${o.seed}; pretrained ${info.createdAt}, loss ${info.loss.first.toFixed(3)} → ${info.loss.last.toFixed(3)}); delete it to pretrain again`);
    return { dir, cached: true, info };
  }
  const work = join(store, `.work-${key}-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const services = new RunServices(join(work, 'logs'));
  try {
    let docs: TextDocument[];
    try {
      docs = readAustenNovels(o.austenPath).flatMap(novelToDocuments);
    } catch (e) {
      if (e instanceof CorpusNotInstalledError) throw new ConfigError(`the pretraining corpus: ${e.message}`);
      throw e;
    }
    if (o.plan.documents > 0) docs = docs.slice(0, o.plan.documents);
    const corpus = writePretrainCorpus(work, { seed: o.seed, validationFraction: o.plan.validationFraction, documents: docs });
    const trainDocs = readFileSync(corpus.train, 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as TextDocument).text);
    o.say(`pretrain: no cached base for key ${key}; pretraining a ${(parameterCount(o.plan.config) / 1e6).toFixed(1)} M-parameter base on ${corpus.documents.train} Austen chapters (${(corpus.characters.train / 1e6).toFixed(1)} M characters; ${corpus.documents.validation} held out), ${o.plan.steps} steps of ${o.plan.batchSize} × ${o.plan.maxLength} tokens`);
    const initDir = join(work, 'init');
    // The tokenizer is trained on the pretraining text itself: the base reads English, not the demonstrations.
    createDefaultModel(initDir, { corpus: trainDocs, seed: o.seed, config: o.plan.config });
    const [role] = await services.startAll([['trainer', ['--store', join(work, 'store'), '--data-root', work]]]);
    const trainer = createClient(TrainerService, role!.address);
    try {
      const outcome = await runJob(
        trainer,
        'pretrain',
        {
          algorithm: Algorithm.PRETRAIN,
          model: { kind: { case: 'hfDir', value: initDir } },
          datasets: [{ path: corpus.train, schema: DataSchema.TEXT, format: 1 }],
          evalDatasets: corpus.documents.validation > 0 ? [{ path: corpus.validation, schema: DataSchema.TEXT, format: 1 }] : [],
          labels: { pipeline: 'juice-run', arm: 'pretrain' },
          hyperparameters: { maxSteps: BigInt(o.plan.steps), batchSize: o.plan.batchSize, maxLength: o.plan.maxLength, learningRate: o.plan.learningRate, lrSchedule: LrSchedule.COSINE, warmupSteps: o.plan.warmupSteps, seed: BigInt(o.seed) },
        },
        o.signal,
      );
      if (outcome.status !== 'succeeded') throw new Error(`pretraining ${outcome.status === 'failed' ? `failed: ${outcome.message}` : `is not available on this trainer: ${outcome.message}`}`);
      const losses = outcome.steps.flatMap((s) => (s.metrics.loss !== undefined ? [s.metrics.loss] : []));
      const info: BaseInfo = {
        key,
        corpus: 'austen',
        corporaVersion: CORPORA_VERSION,
        seed: o.seed,
        plan: o.plan,
        parameters: parameterCount(o.plan.config),
        documents: corpus.documents,
        jobId: outcome.jobId,
        loss: { first: mean(losses.slice(0, 5)), last: mean(losses.slice(-5)) },
        seconds: outcome.seconds,
        createdAt: new Date().toISOString(),
      };
      // The model files only (no optimizer or trainer state): a base to start from, not a job to resume.
      const staged = join(work, 'base');
      mkdirSync(staged);
      for (const f of readdirSync(outcome.checkpoint)) if (!f.startsWith('optimizer') && f !== 'trainer_state.json') cpSync(join(outcome.checkpoint, f), join(staged, f), { recursive: true });
      writeFileSync(join(staged, 'juice-base.json'), JSON.stringify(info, null, 2) + '\n');
      rmSync(dir, { recursive: true, force: true });
      renameSync(staged, dir);
      o.say(`pretrain: base stored in ${dir} (loss ${info.loss.first.toFixed(3)} → ${info.loss.last.toFixed(3)} in ${info.seconds.toFixed(0)} s); later runs with the same corpus, plan and seed reuse it`);
      return { dir, cached: false, info };
    } finally {
      trainer.close();
    }
  } finally {
    await services.stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}
