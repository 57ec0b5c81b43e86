// Reward-model weights on the trainer: where REWARD_MODEL jobs and RFT's reward step start (a
// *ForSequenceClassification directory as it is, or a causal LM's backbone with a fresh seeded score
// head, as the reward-model service's RewardHost.load does), and how they are written back out (an HF
// *ForSequenceClassification directory that `juice-reward-model --model <dir>` serves as is).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfDir, saveHfDir, type CheckpointStore } from '@juice/checkpoint';
import { configToHf, loadModel, rewardParamsFromCausalLm, sequenceClassifierClass, type LoadedModel, type ModelConfig } from '@juice/models';
import type { ParamSet } from '@juice/optim';

export const isRewardModelDir = (dir: string) => String(((loadHfDir(dir).config.architectures as string[] | undefined) ?? [''])[0]).endsWith('ForSequenceClassification');

/** Backbone + a fresh score head (std 0.02 normal, from `seed`) from a causal LM's weights; only the LM head is dropped. */
export function rewardParamsFromLm(model: LoadedModel, seed: number): ParamSet {
  return rewardParamsFromCausalLm(model, seed);
}

/** The reward weights a directory starts: as saved for a reward model, fresh-headed for a causal LM. */
export function loadRewardParams(dir: string, seed: number): { model: LoadedModel; params: ParamSet; freshHead: boolean } {
  if (isRewardModelDir(dir)) {
    const model = loadModel(dir, 'reward');
    return { model, params: model.params, freshHead: false };
  }
  const model = loadModel(dir);
  return { model, params: rewardParamsFromLm(model, seed), freshHead: true };
}

/** config.json of a one-label sequence classifier (HF reads the reward at the last non-pad token). */
export function rewardHfConfig(c: ModelConfig, name: string): Record<string, unknown> {
  return configToHf(c, { _name_or_path: name, architectures: [sequenceClassifierClass(c)], num_labels: 1, id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 }, pad_token_id: c.padTokenId ?? 0 });
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Writes reward weights as a new version of a store namespace (RFT's reward model lives beside the policy
 * checkpoints, under "<job id>.reward-model"); returns the directory.
 */
export function saveRewardModel(store: CheckpointStore, namespace: string, model: LoadedModel, params: ParamSet, o: { name: string; metadata?: Record<string, unknown> }): string {
  const tmp = mkdtempSync(join(tmpdir(), 'juice-rm-'));
  try {
    saveHfDir(tmp, {
      config: rewardHfConfig(model.config, o.name),
      tensors: params.entries.map((e) => [e.name, { shape: e.shape, data: params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
      extraFiles: Object.fromEntries(TOKENIZER_FILES.flatMap((f) => {
        try {
          return [[f, readFileSync(join(model.dir, f))]];
        } catch {
          return [];
        }
      })),
    });
    const version = (store.latest(namespace) ?? 0) + 1;
    store.save(namespace, version, { files: Object.fromEntries(readdirSync(tmp).map((f) => [f, readFileSync(join(tmp, f))])), metadata: o.metadata });
    return store.dir(namespace, version);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
