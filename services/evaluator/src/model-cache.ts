// Checkpoints the evaluator loads itself (EvalTarget.model), kept loaded between runs: evaluating
// every checkpoint of a training job on several task lists would otherwise rebuild the sessions and
// re-read the weights per run. Bounded (least recently used goes first), and a model still used by a
// run is only closed when that run lets go of it.
import { readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { describeModel, type LoadedModel, type LoraSpec } from '@juice/models';
import { modelWeights, startLmWorkers, type LmModel, type ServedLm } from '@juice/inference';
import { create } from '@bufbuild/protobuf';
import { LoraConfigSchema, ModelHead, WeightVersionSchema, type ModelInfo } from '@juice/proto';
import type { WorkerEngine, WorkerSession } from '@juice/runtime';
import { loadModelOffThread } from './load-off-thread.js';

export class LoadedLm implements ServedLm {
  /** Tokenizer and config only: the weights live in the two workers, and a third copy here would cost as much memory again. */
  readonly model: LmModel;
  readonly contextLength: number;
  /** A checkpoint is loaded once and never changes: version 0, as a generator reports before any push. */
  readonly scorerVersion = 0n;
  readonly info: ModelInfo;
  /** ModelInfo.model_sha256: the weight files' combined hash (base and adapter together with an adapter). */
  readonly sha256: string;
  /** With a merged PEFT adapter: adapter_model.safetensors' hash. */
  readonly adapterSha256?: string;

  constructor(
    loaded: LoadedModel & { adapter?: { spec: LoraSpec; sha256: string } },
    readonly engine: WorkerEngine,
    readonly scorer: WorkerSession,
  ) {
    this.model = { tokenizer: loaded.tokenizer, config: loaded.config };
    this.contextLength = loaded.config.maxPositions;
    this.sha256 = loaded.sha256;
    this.adapterSha256 = loaded.adapter?.sha256;
    this.info = describeModel(loaded, { head: ModelHead.CAUSAL_LM, parameterCount: loaded.params.numParams, weightVersion: create(WeightVersionSchema, { number: 0n, label: 'loaded' }) });
    const a = loaded.adapter?.spec;
    if (a) this.info.lora = create(LoraConfigSchema, { rank: a.rank, alpha: a.alpha, dropout: a.dropout ?? 0, targetModules: [...(a.targetModules ?? [])], useRslora: !!a.useRslora });
  }

  async close(): Promise<void> {
    await Promise.all([this.engine.close(), this.scorer.close()]);
  }
}

/** A model in use by one run; release() exactly once when the run ends. */
export interface ModelLease {
  lm: LoadedLm;
  release(): void;
}

interface Entry {
  /** The model directory, and "+" and the adapter directory with one (a base with an adapter is its own model). */
  key: string;
  /** Names, sizes and mtimes of the directory's files: a rewritten checkpoint is loaded again. */
  fingerprint: string;
  loading: Promise<LoadedLm>;
  users: number;
  lastUsed: number;
  evicted: boolean;
}

export interface ModelCacheOptions {
  /** Models kept loaded. */
  capacity: number;
  /** Sequences decoded together per model. */
  maxBatch: number;
  maxQueue: number;
}

/** Thrown when the model's sha256 is not the one the request pinned (ModelSource.expected_sha256). */
function shaMismatch(dir: string, want: string, got: string): Error {
  return Object.assign(new Error(`${dir}: the weight files hash to ${got}, the request expects expected_sha256 ${want}`), { grpcCode: 'FAILED_PRECONDITION' });
}

export class ModelCache {
  private readonly entries = new Map<string, Entry>();
  private clock = 0;

  constructor(private readonly o: ModelCacheOptions) {}

  /** Models loaded or loading, most recently used first (for logs and tests). */
  loaded(): string[] {
    return [...this.entries.values()].sort((a, b) => b.lastUsed - a.lastUsed).map((e) => e.key);
  }

  /**
   * The model in `dir`, loaded now or reused. Errors carry the status by name (grpcCode): NOT_FOUND
   * for a missing directory or file, INVALID_ARGUMENT for an unsupported or malformed model,
   * FAILED_PRECONDITION when its sessions cannot be started or the hash is not the expected one.
   * `adapter`: a PEFT adapter directory merged into the model (EvalTarget.adapter), with its pinned hash.
   */
  async acquire(dirIn: string, expectedSha256 = '', adapter?: { dir: string; expectedSha256?: string }): Promise<ModelLease> {
    const dir = resolve(dirIn);
    const adapterDir = adapter ? resolve(adapter.dir) : undefined;
    const key = adapterDir ? `${dir}+${adapterDir}` : dir;
    const fingerprint = adapterDir ? `${fingerprintOf(dir)}#${fingerprintOf(adapterDir)}` : fingerprintOf(dir);
    let entry = this.entries.get(key);
    if (entry && entry.fingerprint !== fingerprint) {
      this.drop(entry);
      entry = undefined;
    }
    if (!entry) {
      entry = { key, fingerprint, loading: load(dir, this.o, adapterDir), users: 0, lastUsed: 0, evicted: false };
      this.entries.set(key, entry);
      const e = entry;
      // A failed load is not cached: the next request tries again (the directory may have been fixed).
      e.loading.catch(() => this.entries.get(key) === e && this.entries.delete(key));
    }
    entry.users++;
    entry.lastUsed = ++this.clock;
    let lm: LoadedLm;
    try {
      lm = await entry.loading;
      if (expectedSha256 && expectedSha256.toLowerCase() !== lm.sha256) throw shaMismatch(key, expectedSha256, lm.sha256);
      const pinned = adapter?.expectedSha256;
      if (pinned && pinned.toLowerCase() !== lm.adapterSha256) throw shaMismatch(adapterDir!, pinned, lm.adapterSha256 ?? '');
    } catch (e) {
      this.releaseEntry(entry);
      throw e;
    }
    this.evictBeyondCapacity();
    let released = false;
    const held = entry;
    return {
      lm,
      release: () => {
        if (released) return;
        released = true;
        this.releaseEntry(held);
      },
    };
  }

  /** Closes every model (evaluator shutdown). */
  async close(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.loading.then((lm) => lm.close(), () => undefined)));
  }

  private releaseEntry(e: Entry): void {
    e.users--;
    if (e.evicted && e.users === 0) void e.loading.then((lm) => lm.close(), () => undefined);
    this.evictBeyondCapacity();
  }

  private drop(e: Entry): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.evicted = true;
    if (e.users === 0) void e.loading.then((lm) => lm.close(), () => undefined);
  }

  private evictBeyondCapacity(): void {
    // Models in use are never evicted, so a burst of runs on many models may exceed the bound until they end.
    const idle = [...this.entries.values()].filter((e) => e.users === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    let excess = this.entries.size - this.o.capacity;
    for (const e of idle) {
      if (excess <= 0) break;
      this.drop(e);
      excess--;
    }
  }
}

function fingerprintOf(dir: string): string {
  try {
    return readdirSync(dir)
      .sort()
      .map((f) => {
        const st = statSync(`${dir}/${f}`);
        return `${f}:${st.size}:${st.mtimeMs}`;
      })
      .join('|');
  } catch {
    // Missing or unreadable: loadModel reports it with the right status.
    return '';
  }
}

async function load(dir: string, o: ModelCacheOptions, adapterDir?: string): Promise<LoadedLm> {
  const model = await loadModelOffThread(dir, adapterDir);
  let workers;
  try {
    workers = await startLmWorkers(model, modelWeights(model), { maxBatch: o.maxBatch, maxQueue: o.maxQueue });
  } catch (e) {
    // The files parsed, but onnxruntime could not build or run the graphs for this config.
    throw Object.assign(new Error(`${dir}: the model loaded but its inference sessions could not be started: ${(e as Error).message}`), { grpcCode: 'FAILED_PRECONDITION', cause: e });
  }
  return new LoadedLm(model, workers.engine, workers.scorer);
}
