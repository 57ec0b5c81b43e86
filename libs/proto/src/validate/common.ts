// Validation of the types shared by the services: prompts, completions, sampling parameters,
// dataset specs and weight-push chunks (limits from proto/juice/v1/common.proto).
import type { Completion, DatasetSpec, LoraConfig, ModelSource, Prompt, SamplingParams, WeightChunk } from '../gen/juice/v1/common_pb.js';
import { DataFormat, DataSchema, Dtype, WeightDeltaMode } from '../gen/juice/v1/common_pb.js';
import { SHA256_HEX, type Violations } from './violations.js';
import { echo } from './echo.js';

/**
 * Longest prompt or completion text accepted, in UTF-8 bytes, checked before any tokenizing (which
 * costs about a second per MB): 32 bytes per token of the model's context (no tokenizer's tokens are
 * that long on average), at least 64 KiB; 4 MiB when the model is not known.
 */
export function maxTextBytes(limits: ModelLimits): number {
  return limits.contextLength !== undefined ? Math.max(64 * 1024, limits.contextLength * 32) : 4 * 1024 * 1024;
}

/** Longest file or directory path a request may name (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest id (job, run, request id) or short name a request may carry. */
export const MAX_ID_BYTES = 128;
/** Most chat messages in one prompt. */
export const MAX_CHAT_MESSAGES = 1024;

/** Model facts some checks need; unknown (undefined) when the service has no model loaded. */
export interface ModelLimits {
  vocabSize?: number;
  contextLength?: number;
  /** Not checked here: a chat prompt without a template is FAILED_PRECONDITION from the encoders. */
  hasChatTemplate?: boolean;
}

export function checkTokenIds(v: Violations, field: string, ids: readonly number[], limits: ModelLimits): void {
  if (limits.vocabSize === undefined) return;
  const i = ids.findIndex((id) => id >= limits.vocabSize!);
  if (i >= 0) v.add(`${field}[${i}]`, `token id ${ids[i]} is out of the vocabulary (must be < ${limits.vocabSize})`);
}

/**
 * allowEmpty: an unset Prompt is valid (ScoreCompletions with a text completion). leftTruncated: the
 * method cuts a long prompt from the left (ScoreCompletions contexts), so its length is not checked.
 * A chat prompt on a model without a chat template is not a malformed request: the prompt encoders
 * (@juice/models) answer FAILED_PRECONDITION, as common.proto says.
 */
export function checkPrompt(v: Violations, field: string, p: Prompt | undefined, limits: ModelLimits, allowEmpty = false, leftTruncated = false): void {
  if (!p || p.kind.case === undefined) {
    if (!allowEmpty) v.add(field, 'must set exactly one of text, chat, tokens');
    return;
  }
  switch (p.kind.case) {
    case 'text':
      if (p.kind.value.length === 0) v.add(`${field}.text`, 'must not be empty (send an empty Prompt only where the method allows it)');
      v.utf8Bytes(`${field}.text`, p.kind.value, maxTextBytes(limits));
      break;
    case 'chat': {
      const msgs = p.kind.value.messages;
      if (msgs.length === 0) v.add(`${field}.chat.messages`, 'must have at least one message');
      v.count(`${field}.chat.messages`, msgs.length, 0, MAX_CHAT_MESSAGES);
      const chatBytes = msgs.reduce((n, m) => n + Buffer.byteLength(m.content, 'utf8') + Buffer.byteLength(m.role, 'utf8'), 0);
      if (chatBytes > maxTextBytes(limits)) v.add(`${field}.chat.messages`, `must hold at most ${maxTextBytes(limits)} bytes of UTF-8 in all, got ${chatBytes}`);
      msgs.forEach((m, i) => {
        if (m.role.length === 0) v.add(`${field}.chat.messages[${i}].role`, 'is required (e.g. "user", "assistant", "system")');
      });
      break;
    }
    case 'tokens':
      if (p.kind.value.ids.length === 0) v.add(`${field}.tokens.ids`, 'must have at least one token id');
      checkTokenIds(v, `${field}.tokens.ids`, p.kind.value.ids, limits);
      if (!leftTruncated && limits.contextLength !== undefined && p.kind.value.ids.length >= limits.contextLength)
        v.add(`${field}.tokens.ids`, `prompt of ${p.kind.value.ids.length} tokens leaves no room in the context length ${limits.contextLength}`);
      break;
  }
}

export function checkCompletion(v: Violations, field: string, c: Completion | undefined, limits: ModelLimits): void {
  if (!c || c.kind.case === undefined) {
    v.add(field, 'must set exactly one of text, tokens');
    return;
  }
  if (c.kind.case === 'text' && c.kind.value.length === 0) v.add(`${field}.text`, 'must not be empty (at least one token is scored)');
  if (c.kind.case === 'text') v.utf8Bytes(`${field}.text`, c.kind.value, maxTextBytes(limits));
  if (c.kind.case === 'tokens') {
    if (c.kind.value.ids.length === 0) v.add(`${field}.tokens.ids`, 'must have at least one token id');
    checkTokenIds(v, `${field}.tokens.ids`, c.kind.value.ids, limits);
  }
}

export function checkSampling(v: Violations, field: string, s: SamplingParams | undefined, limits: ModelLimits): void {
  if (!s) return;
  if (s.temperature !== undefined) v.range(`${field}.temperature`, s.temperature, 0, 100);
  if (s.topP !== undefined && !(s.topP > 0 && s.topP <= 1)) v.add(`${field}.top_p`, `must be in (0, 1], got ${s.topP}`);
  v.range(`${field}.min_p`, s.minP, 0, 1);
  if (s.repetitionPenalty !== 0) {
    if (!(s.repetitionPenalty > 0 && s.repetitionPenalty <= 10)) v.add(`${field}.repetition_penalty`, `must be in (0, 10] (0 or 1 = disabled), got ${s.repetitionPenalty}`);
  }
  v.range(`${field}.frequency_penalty`, s.frequencyPenalty, -2, 2);
  v.range(`${field}.presence_penalty`, s.presencePenalty, -2, 2);
  const maxNew = s.maxNewTokens === 0 ? 256 : s.maxNewTokens;
  if (s.minNewTokens > maxNew) v.add(`${field}.min_new_tokens`, `must be <= max_new_tokens (${maxNew}), got ${s.minNewTokens}`);
  if (limits.contextLength !== undefined && s.maxNewTokens > limits.contextLength)
    v.add(`${field}.max_new_tokens`, `must be <= the model's context length ${limits.contextLength}, got ${s.maxNewTokens}`);
  v.count(`${field}.stop`, s.stop.length, 0, 16);
  s.stop.forEach((str, i) => v.utf8Bytes(`${field}.stop[${i}]`, str, 256, 1));
  v.count(`${field}.stop_token_ids`, s.stopTokenIds.length, 0, 64);
  checkTokenIds(v, `${field}.stop_token_ids`, s.stopTokenIds, limits);
  v.range(`${field}.top_logprobs`, s.topLogprobs, 0, 20);
}

export function checkModelSource(v: Violations, field: string, m: ModelSource | undefined): void {
  if (!m) return;
  if (m.kind.case === 'hfDir') {
    if (m.kind.value.length === 0) v.add(`${field}.hf_dir`, 'must be a local directory path');
    v.utf8Bytes(`${field}.hf_dir`, m.kind.value, MAX_PATH_BYTES);
  }
  if (m.kind.case === 'checkpoint') {
    if (m.kind.value.jobId.length === 0) v.add(`${field}.checkpoint.job_id`, 'is required');
    v.utf8Bytes(`${field}.checkpoint.job_id`, m.kind.value.jobId, MAX_ID_BYTES);
    if (m.kind.value.best && m.kind.value.version !== 0n) v.add(`${field}.checkpoint.version`, 'must be 0 when best is set');
  }
  if (m.expectedSha256 && !SHA256_HEX.test(m.expectedSha256)) v.add(`${field}.expected_sha256`, 'must be 64 lowercase hex characters');
}

const SPLIT = /^(|\[(-?\d+%?)?:(-?\d+%?)?\])$/;

export function checkDataset(v: Violations, field: string, d: DatasetSpec, schemaRequired: boolean): void {
  if (d.path.length === 0) v.add(`${field}.path`, 'is required (a local file or directory)');
  v.utf8Bytes(`${field}.path`, d.path, MAX_PATH_BYTES);
  if (!(d.format in DataFormat)) v.add(`${field}.format`, `unknown value ${d.format}`);
  if (schemaRequired && d.schema === DataSchema.UNSPECIFIED) v.add(`${field}.schema`, 'is required: CHAT, PROMPT_COMPLETION, PREFERENCE or TEXT');
  if (!SPLIT.test(d.split)) v.add(`${field}.split`, `must look like "", "[:1000]", "[1000:]", "[:90%]" or "[90%:]", got ${echo(d.split)}`);
  if (d.expectedSha256 && !SHA256_HEX.test(d.expectedSha256)) v.add(`${field}.expected_sha256`, 'must be 64 lowercase hex characters');
}

/**
 * The HF Linear module names of the architectures juice trains (Llama/Mistral/Qwen2, GPT-NeoX): a
 * target_modules entry must end in one of them (PEFT matches the full name or a "."-suffix), or be
 * "all-linear". Whether the job's model has it is checked when the job loads the model.
 */
export const LORA_MODULE_NAMES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h'] as const;

export function checkLora(v: Violations, field: string, l: LoraConfig | undefined): void {
  if (!l || l.rank === 0) return;
  v.range(`${field}.rank`, l.rank, 1, 1024);
  if (!(l.dropout >= 0 && l.dropout < 1)) v.add(`${field}.dropout`, `must be in [0, 1), got ${l.dropout}`);
  if (l.alpha < 0) v.add(`${field}.alpha`, `must be >= 0, got ${l.alpha}`);
  l.targetModules.forEach((t, i) => {
    if (t === 'all-linear' && l.targetModules.length === 1) return;
    if (t === 'all-linear') v.add(`${field}.target_modules[${i}]`, '"all-linear" must be the only entry');
    else if (!(LORA_MODULE_NAMES as readonly string[]).includes(t.split('.').at(-1)!)) v.add(`${field}.target_modules[${i}]`, `"${t.slice(0, 100)}" is not a Linear module name of the supported architectures (${LORA_MODULE_NAMES.join(', ')}, or "all-linear")`);
  });
}

/** Structural checks of one weight-push chunk; model-dependent checks (names, shapes) are the receiver's. */
export function checkWeightChunk(v: Violations, c: WeightChunk, expectedSequence: bigint): void {
  if (c.sequence !== expectedSequence) v.add('sequence', `must be ${expectedSequence} (chunks are numbered from 0 without gaps), got ${c.sequence}`);
  if (expectedSequence === 0n) {
    if (!c.header) v.add('header', 'is required in the first chunk');
    else {
      if (c.header.totalTensors === 0) v.add('header.total_tensors', 'must be > 0');
      if (c.header.totalBytes === 0n) v.add('header.total_bytes', 'must be > 0');
      if (!c.header.version) v.add('header.version', 'is required');
      if (!(c.header.deltaMode in WeightDeltaMode)) v.add('header.delta_mode', `unknown value ${c.header.deltaMode}`);
      if (c.header.loraAdapterOnly && (!c.header.lora || c.header.lora.rank === 0)) v.add('header.lora', 'is required (rank >= 1) when lora_adapter_only');
    }
  } else if (c.header) v.add('header', 'must only be set in the first chunk');
  if (!SHA256_HEX.test(c.sha256)) v.add('sha256', 'must be the 64-hex SHA-256 of the chunk\'s canonical bytes');
  c.tensors.forEach((t, i) => {
    if (t.name.length === 0) v.add(`tensors[${i}].name`, 'is required');
    if (t.dtype === Dtype.UNSPECIFIED || !(t.dtype in Dtype)) v.add(`tensors[${i}].dtype`, `must be a known dtype, got ${t.dtype}`);
    if (t.shape.length === 0 && t.data.length === 0) v.add(`tensors[${i}].shape`, 'is required');
  });
}
