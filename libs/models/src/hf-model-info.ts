// Reads what GetModelInfo can tell from a Hugging Face model directory's config.json and tokenizer
// files, before any weights are loaded: architecture, sizes, context length, special tokens.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { ModelHead, ModelInfoSchema, TokenizerInfoSchema, type ModelInfo } from '@juice/proto';
import { ModelLoadError } from './errors.js';

type Json = Record<string, unknown>;

async function readJson(path: string): Promise<Json | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Json;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ModelLoadError('FAILED_PRECONDITION', `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

const num = (x: unknown): number => (typeof x === 'number' ? x : 0);
const ids = (x: unknown): number[] => (Array.isArray(x) ? x.filter((v): v is number => typeof v === 'number') : typeof x === 'number' ? [x] : []);

export async function readHfModelInfo(dir: string, head: ModelHead): Promise<ModelInfo> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ModelLoadError('NOT_FOUND', `model directory ${dir} does not exist`);
  const config = await readJson(join(dir, 'config.json'));
  if (!config) throw new ModelLoadError('NOT_FOUND', `${join(dir, 'config.json')} is missing: a model directory needs a Hugging Face config.json`);
  const tokConfig = (await readJson(join(dir, 'tokenizer_config.json'))) ?? {};
  const tokenizer = await readJson(join(dir, 'tokenizer.json'));
  const model = (tokenizer?.model ?? {}) as Json;
  const chatTemplate = typeof tokConfig.chat_template === 'string' ? tokConfig.chat_template : '';
  const heads = num(config.num_attention_heads);
  return create(ModelInfoSchema, {
    architecture: String(config.model_type ?? ''),
    modelName: String(config._name_or_path ?? dir),
    modelPath: dir,
    vocabSize: num(config.vocab_size),
    contextLength: num(config.max_position_embeddings),
    numLayers: num(config.num_hidden_layers),
    hiddenSize: num(config.hidden_size),
    numAttentionHeads: heads,
    numKeyValueHeads: num(config.num_key_value_heads) || heads,
    head,
    tokenizer: create(TokenizerInfoSchema, {
      kind: String(model.type ?? ''),
      bosTokenId: ids(config.bos_token_id)[0],
      eosTokenIds: ids(config.eos_token_id),
      padTokenId: ids(config.pad_token_id)[0],
      addBosToken: tokConfig.add_bos_token === true,
      hasChatTemplate: chatTemplate.length > 0,
      chatTemplate,
    }),
  });
}
