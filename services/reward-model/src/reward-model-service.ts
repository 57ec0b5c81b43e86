// The RewardModel contract. This build validates every request against the contract's limits and
// reports model info from the model directory; scoring needs the model engine and answers
// UNIMPLEMENTED until it lands, never a made-up reward.
import type { RewardModelService } from '@juice/proto';
import { ModelHead, validateCompare, validateScore, checkWeightChunk, Violations, type ModelInfo } from '@juice/proto';
import { readHfModelInfo } from '@juice/models';
import { failedPrecondition, rejectInvalid, unimplemented, type ServiceImpl } from '@juice/service-kit';

export interface RewardModelOptions {
  modelDir?: string;
}

export async function createRewardModelService(opts: RewardModelOptions): Promise<Partial<ServiceImpl<typeof RewardModelService>>> {
  const info: ModelInfo | undefined = opts.modelDir ? await readHfModelInfo(opts.modelDir, ModelHead.SCALAR_REWARD) : undefined;
  const limits = info ? { vocabSize: info.vocabSize || undefined, contextLength: info.contextLength || undefined, hasChatTemplate: info.tokenizer?.hasChatTemplate } : {};
  const noEngine = (what: string) => unimplemented(`${what} needs the model engine, which this build of the reward-model does not have yet`);

  return {
    async score(req) {
      rejectInvalid(validateScore(req, limits));
      throw noEngine('Score');
    },
    async compare(req) {
      rejectInvalid(validateCompare(req, limits));
      throw noEngine('Compare');
    },
    async getModelInfo() {
      if (!info) throw failedPrecondition('no reward model is configured: start the reward-model with --model <hf-dir> (or JUICE_MODEL)');
      return { model: info };
    },
    async pushWeights(chunks) {
      let seq = 0n;
      for await (const chunk of chunks) {
        const v = new Violations();
        checkWeightChunk(v, chunk, seq++);
        rejectInvalid(v);
      }
      throw noEngine('PushWeights');
    },
  };
}
