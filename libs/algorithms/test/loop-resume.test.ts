// Resume in the training loops: N steps in one run vs k steps, an abort (the trainer dying), then a
// fresh loop restored from what a checkpoint holds (weights, cursor, serialized optimizer state) running
// the remaining N−k steps must end with bit-identical weights. A schedule with warm-up and decay and an
// epoch boundary inside the resumed part make step, LR and data position all matter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { initParameters, type ModelConfig } from '@juice/models';
import { deserializeOptimizerState, serializeOptimizerState, type OptimizerState, type ParamSet } from '@juice/optim';
import type { DataCursor, TokenizedExample } from '@juice/data';
import { runPairwise, runSft, type LoopPosition, type PairExample } from '../src/index.js';

const config: ModelConfig = {
  architecture: 'llama', vocabSize: 16, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2,
  headDim: 8, rmsNormEps: 1e-6, ropeTheta: 10000, maxPositions: 32, tieWordEmbeddings: false, qkvBias: false,
};

function examples(n: number, seed: number): TokenizedExample[] {
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % 13) + 2;
  return Array.from({ length: n }, (_, i) => {
    const prompt = [1, ...Array.from({ length: 2 + (i % 3) }, rand), 15];
    return { promptIds: prompt, responseIds: [...prompt.slice(1, -1), 14], truncated: false };
  });
}

const sha = (p: ParamSet) => createHash('sha256').update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength)).digest('hex');

interface Snapshot {
  weights: Float32Array;
  cursor: DataCursor;
  optimizer: OptimizerState;
}

/** What saving and loading a checkpoint does to the loop's position (the optimizer goes through its binary format). */
function snapshot(params: ParamSet, at: LoopPosition): Snapshot {
  return { weights: params.data.slice(), cursor: at.cursor, optimizer: deserializeOptimizerState(serializeOptimizerState(at.optimizer.state())) };
}

const common = { config, padTokenId: 0, batchSize: 6, learningRate: 3e-3, schedule: 'linear' as const, warmupSteps: 3, weightDecay: 0.01, maxGradNorm: 1, seed: 7 };

test('runSft: k steps + abort + restore + the remaining steps = N uninterrupted steps, bit for bit', async () => {
  const data = examples(20, 3); // 4 batches per epoch: steps 5..12 cross two epoch boundaries
  const N = 12;
  const k = 5;
  const full = initParameters(config, 11, 0.1);
  await runSft({ ...common, params: full, examples: data, maxSteps: N, epochs: 1 });

  const killed = initParameters(config, 11, 0.1);
  const stop = new AbortController();
  let saved: Snapshot | undefined;
  await assert.rejects(
    runSft({
      ...common, params: killed, examples: data, maxSteps: N, epochs: 1, signal: stop.signal,
      afterStep: (at) => {
        if (at.step === k) {
          saved = snapshot(killed, at);
          stop.abort(new Error('trainer killed'));
        }
      },
    }),
    /trainer killed/,
  );
  assert.ok(saved && saved.cursor.epoch === 1 && saved.cursor.rowsConsumed === 6, `cursor after ${k} steps: ${JSON.stringify(saved?.cursor)}`);
  // Weights diverge after step k in the killed run only if it kept training: it must not have.
  const resumed = initParameters(config, 99, 0.1); // different init: everything must come from the snapshot
  resumed.data.set(saved.weights);
  const steps: number[] = [];
  await runSft({ ...common, params: resumed, examples: data, maxSteps: N, epochs: 1, startStep: k, cursor: saved.cursor, optimizerState: saved.optimizer, onStep: (s) => steps.push(s) });
  assert.deepEqual(steps, [6, 7, 8, 9, 10, 11, 12]);
  assert.equal(sha(resumed), sha(full));
  assert.notEqual(sha(resumed), sha(killed), 'the control: the killed run stopped at step k');
});

test('runSft: resuming without the optimizer state does not reproduce the run (the state matters)', async () => {
  const data = examples(20, 3);
  const full = initParameters(config, 11, 0.1);
  let saved: Snapshot | undefined;
  await runSft({ ...common, params: full, examples: data, maxSteps: 8, epochs: 1, afterStep: (at) => void (at.step === 4 && (saved = snapshot(full, at))) });
  const fresh = initParameters(config, 11, 0.1);
  fresh.data.set(saved!.weights);
  const blank = { ...saved!.optimizer, m: new Float32Array(saved!.optimizer.length), v: new Float32Array(saved!.optimizer.length), step: 4 };
  await runSft({ ...common, params: fresh, examples: data, maxSteps: 8, epochs: 1, startStep: 4, cursor: saved!.cursor, optimizerState: blank });
  assert.notEqual(sha(fresh), sha(full));
});

test('runPairwise: k steps + abort + restore + the remaining steps = N uninterrupted steps, bit for bit', async () => {
  const demos = examples(18, 5);
  const pairs: PairExample[] = demos.map((e) => ({ chosen: e, rejected: { ...e, responseIds: [...e.responseIds].reverse() } }));
  const N = 10;
  const k = 4;
  const opts = { ...common, pairs, beta: 0.5, loss: 'logistic' as const, steps: N };
  const full = initParameters(config, 21, 0.1);
  const fullRef = full.clone();
  await runPairwise({ ...opts, params: full, reference: fullRef });

  const killed = initParameters(config, 21, 0.1);
  const killedRef = killed.clone();
  const stop = new AbortController();
  let saved: Snapshot | undefined;
  await assert.rejects(
    runPairwise({ ...opts, params: killed, reference: killedRef, signal: stop.signal, afterStep: (at) => void (at.step === k && ((saved = snapshot(killed, at)), stop.abort(new Error('trainer killed')))) }),
    /trainer killed/,
  );
  // The frozen reference is restored separately (DPO: the initial model; IRFT: stored with the checkpoint).
  const reference = initParameters(config, 99, 0.1);
  reference.data.set(killedRef.data);
  const resumed = initParameters(config, 99, 0.1);
  resumed.data.set(saved!.weights);
  const steps: number[] = [];
  await runPairwise({ ...opts, params: resumed, reference, startStep: k, cursor: saved!.cursor, optimizerState: saved!.optimizer, onStep: (s) => steps.push(s) });
  assert.deepEqual(steps, [5, 6, 7, 8, 9, 10]);
  assert.equal(sha(resumed), sha(full));
  assert.notEqual(sha(resumed), sha(killed));
});
