// The Generator contract. This build validates every request against the contract's limits and
// reports model info from the model directory; generation itself needs the model engine and answers
// UNIMPLEMENTED until it lands, never a made-up result.
import type { GeneratorService } from '@juice/proto';
import { ModelHead, validateGenerate, validateScoreCompletions, checkWeightChunk, Violations, type ModelInfo } from '@juice/proto';
import { failedPrecondition, rejectInvalid, unimplemented, type ServiceImpl } from '@juice/service-kit';
import { readHfModelInfo } from '@juice/models';

export interface GeneratorOptions {
  modelDir?: string;
}

export async function createGeneratorService(opts: GeneratorOptions): Promise<Partial<ServiceImpl<typeof GeneratorService>>> {
  const info: ModelInfo | undefined = opts.modelDir ? await readHfModelInfo(opts.modelDir, ModelHead.CAUSAL_LM) : undefined;
  const limits = info ? { vocabSize: info.vocabSize || undefined, contextLength: info.contextLength || undefined, hasChatTemplate: info.tokenizer?.hasChatTemplate } : {};
  const noEngine = (what: string) => unimplemented(`${what} needs the model engine, which this build of the generator does not have yet`);

  return {
    async generate(req) {
      rejectInvalid(validateGenerate(req, limits));
      throw noEngine('Generate');
    },
    async *generateStream(req) {
      rejectInvalid(validateGenerate(req, limits));
      throw noEngine('GenerateStream');
    },
    async scoreCompletions(req) {
      rejectInvalid(validateScoreCompletions(req, limits));
      throw noEngine('ScoreCompletions');
    },
    async getModelInfo() {
      if (!info) throw failedPrecondition('no model is configured: start the generator with --model <hf-dir> (or JUICE_MODEL)');
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
