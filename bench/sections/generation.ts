// Prefill and KV-cache decode throughput (tokens/s) at batch 1 and 16, for the embedded default model
// and a ~110 M-parameter Llama config (random weights: speed does not depend on their values).
import { toModelBytes } from '@juice/onnx';
import { buildGenerationGraphs, DEFAULT_MODEL_CONFIG, initParameters, parameterCount, type ModelConfig } from '@juice/models';
import { createSession, Decoder, DEFAULT_SAMPLING, type Feeds } from '@juice/runtime';
import { table, type Section } from './types.js';

const MEDIUM: ModelConfig = {
  architecture: 'llama', vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 12,
  headDim: 64, rmsNormEps: 1e-5, ropeTheta: 10000, maxPositions: 2048, tieWordEmbeddings: true, qkvBias: false,
};

async function measure(name: string, config: ModelConfig, ctx: Parameters<Section>[0]): Promise<[string, string | number, string?][]> {
  const { prefill, decode } = buildGenerationGraphs(config);
  const decoder = new Decoder(await createSession(toModelBytes(prefill)), await createSession(toModelBytes(decode)), { layers: config.numLayers, kvHeads: config.numKvHeads, headDim: config.headDim, vocabSize: config.vocabSize });
  const params = initParameters(config, 1);
  const weights: Feeds = {};
  for (const e of params.entries) weights[e.name] = { data: params.view(e.name), dims: e.shape as number[] };
  const rows: [string, string | number, string?][] = [[`${name}`, `${(parameterCount(config) / 1e6).toFixed(1)} M params`, '']];
  const promptLen = 64;
  const newTokens = 32;
  for (const B of [1, 16]) {
    const prompts = Array.from({ length: B }, (_, b) => Array.from({ length: promptLen }, (_, i) => (b * 31 + i * 7) % config.vocabSize));
    // Prefill alone: a generation of one token.
    await decoder.generate(prompts, weights, { maxNewTokens: 1, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
    const t0 = performance.now();
    await decoder.generate(prompts, weights, { maxNewTokens: 1, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
    const prefillMs = performance.now() - t0;
    const t1 = performance.now();
    await decoder.generate(prompts, weights, { maxNewTokens: newTokens, eosTokenIds: [], sampling: { ...DEFAULT_SAMPLING, temperature: 0 } });
    const totalMs = performance.now() - t1;
    const decodeTps = (B * (newTokens - 1)) / ((totalMs - prefillMs) / 1000);
    ctx.results[`generation.${name}.b${B}.decode_tps`] = decodeTps;
    ctx.results[`generation.${name}.b${B}.prefill_tps`] = (B * promptLen) / (prefillMs / 1000);
    rows.push([`  batch ${B}: prefill (${promptLen}-token prompts)`, (B * promptLen) / (prefillMs / 1000), 'tokens/s']);
    rows.push([`  batch ${B}: decode (greedy, KV cache)`, decodeTps, 'tokens/s']);
  }
  return rows;
}

export const generationSection: Section = async (ctx) => {
  table([...(await measure('default (juice-tiny)', DEFAULT_MODEL_CONFIG, ctx)), ...(await measure('llama-110M', MEDIUM, ctx))]);
};
