// Per-RPC request validation for the four services (limits from the .proto field comments).
import type { CompareRequest, ScoreRequest } from '../gen/juice/v1/reward_pb.js';
import type { GenerateRequest, GenerateStreamRequest, ScoreCompletionsRequest } from '../gen/juice/v1/generator_pb.js';
import type { EvaluateRequest, ListRunsRequest, TaskDefinition } from '../gen/juice/v1/evaluator_pb.js';
import { TaskKind } from '../gen/juice/v1/evaluator_pb.js';
import type { JobSpec, ListJobsRequest, StartJobRequest } from '../gen/juice/v1/trainer_pb.js';
import { Algorithm, LrSchedule, Optimizer } from '../gen/juice/v1/trainer_pb.js';
import { DataSchema } from '../gen/juice/v1/common_pb.js';
import { checkCompletion, checkDataset, checkLora, checkModelSource, checkPrompt, checkSampling, type ModelLimits } from './common.js';
import { Violations } from './violations.js';
import { echo } from './echo.js';
import { regexProblem } from './regex.js';
import { MAX_ID_BYTES, MAX_PATH_BYTES } from './common.js';

/** Most datasets (or eval datasets) one job reads, and most labels on a job or run. */
export const MAX_DATASETS = 64;
export const MAX_LABELS = 64;

/** A required id naming an existing job or run: checked before it is looked up or quoted back. */
export function validateId(field: string, id: string): Violations {
  const v = new Violations();
  if (id.length === 0) v.add(field, 'is required');
  else v.utf8Bytes(field, id, MAX_ID_BYTES);
  return v;
}

function checkLabels(v: Violations, field: string, labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) v.add(field, `must have at most ${MAX_LABELS} entries, got ${entries.length}`);
  for (const [k, val] of entries.slice(0, MAX_LABELS)) {
    v.utf8Bytes(`${field}[${echo(k, 40)}]`, k, MAX_ID_BYTES, 1);
    v.utf8Bytes(`${field}[${echo(k, 40)}]`, val, MAX_ID_BYTES);
  }
}

export function validateGenerate(req: GenerateRequest | GenerateStreamRequest, limits: ModelLimits = {}): Violations {
  const v = new Violations();
  v.count('prompts', req.prompts.length, 1, 1024);
  req.prompts.forEach((p, i) => checkPrompt(v, `prompts[${i}]`, p, limits));
  v.range('n', req.n, 0, 64);
  checkSampling(v, 'sampling', req.sampling, limits);
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

export function validateScoreCompletions(req: ScoreCompletionsRequest, limits: ModelLimits = {}): Violations {
  const v = new Violations();
  v.count('items', req.items.length, 1, 4096);
  req.items.forEach((it, i) => {
    const emptyPromptAllowed = it.completion?.kind.case === 'text';
    // generator.proto: a context longer than the model is cut from the left (truncated_prompt_tokens).
    checkPrompt(v, `items[${i}].prompt`, it.prompt, limits, emptyPromptAllowed, true);
    checkCompletion(v, `items[${i}].completion`, it.completion, limits);
  });
  v.range('top_logprobs', req.topLogprobs, 0, 20);
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

export function validateScore(req: ScoreRequest, limits: ModelLimits = {}): Violations {
  const v = new Violations();
  v.count('items', req.items.length, 1, 4096);
  req.items.forEach((it, i) => {
    checkPrompt(v, `items[${i}].prompt`, it.prompt, limits);
    checkCompletion(v, `items[${i}].response`, it.response, limits);
  });
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

export function validateCompare(req: CompareRequest, limits: ModelLimits = {}): Violations {
  const v = new Violations();
  v.count('pairs', req.pairs.length, 1, 2048);
  req.pairs.forEach((p, i) => {
    checkPrompt(v, `pairs[${i}].prompt`, p.prompt, limits);
    checkCompletion(v, `pairs[${i}].response_a`, p.responseA, limits);
    checkCompletion(v, `pairs[${i}].response_b`, p.responseB, limits);
  });
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

const CONFIG_CASE_FOR: Record<number, string> = {
  [Algorithm.SFT]: 'sft',
  [Algorithm.REWARD_MODEL]: 'rewardModel',
  [Algorithm.DPO]: 'dpo',
  [Algorithm.IRFT]: 'irft',
  [Algorithm.SPIN]: 'irft',
  [Algorithm.RFT]: 'rft',
};

const PROTO_CASE: Record<string, string> = { sft: 'sft', rewardModel: 'reward_model', dpo: 'dpo', irft: 'irft', rft: 'rft' };

/** TEXT rows are raw documents: only PRETRAIN reads them, and PRETRAIN reads nothing else. */
function checkTextSchema(v: Violations, field: string, algorithm: Algorithm, schema: DataSchema): void {
  if (algorithm === Algorithm.PRETRAIN && schema !== DataSchema.TEXT) v.add(field, `PRETRAIN needs TEXT data (rows {"text": ...}), got ${DataSchema[schema] ?? schema}`);
  if (algorithm !== Algorithm.PRETRAIN && schema === DataSchema.TEXT) v.add(field, `TEXT data (raw documents) is read only by PRETRAIN; ${Algorithm[algorithm]} needs ${algorithm === Algorithm.DPO || algorithm === Algorithm.REWARD_MODEL ? 'PREFERENCE' : 'CHAT or PROMPT_COMPLETION'} data`);
}

export function validateJobSpec(spec: JobSpec | undefined, field = 'spec'): Violations {
  const v = new Violations();
  if (!spec) {
    v.add(field, 'is required');
    return v;
  }
  v.utf8Bytes(`${field}.name`, spec.name, 128);
  checkLabels(v, `${field}.labels`, spec.labels);
  if (spec.algorithm === Algorithm.UNSPECIFIED || !(spec.algorithm in Algorithm)) {
    v.add(`${field}.algorithm`, 'is required: SFT, REWARD_MODEL, DPO, IRFT, SPIN, RFT or PRETRAIN');
    return v;
  }
  checkModelSource(v, `${field}.model`, spec.model);
  const preference = spec.algorithm === Algorithm.DPO || spec.algorithm === Algorithm.REWARD_MODEL;
  if (spec.datasets.length === 0) v.add(`${field}.datasets`, 'must have at least one dataset');
  // Counted before any per-dataset work: 100,000 datasets must be refused at once, not walked.
  if (spec.datasets.length > MAX_DATASETS || spec.evalDatasets.length > MAX_DATASETS) {
    v.count(`${field}.datasets`, spec.datasets.length, 0, MAX_DATASETS);
    v.count(`${field}.eval_datasets`, spec.evalDatasets.length, 0, MAX_DATASETS);
    return v;
  }
  const pretrain = spec.algorithm === Algorithm.PRETRAIN;
  spec.datasets.forEach((d, i) => {
    checkDataset(v, `${field}.datasets[${i}]`, d, true);
    if (d.schema === DataSchema.UNSPECIFIED) return;
    if (pretrain || d.schema === DataSchema.TEXT) checkTextSchema(v, `${field}.datasets[${i}].schema`, spec.algorithm, d.schema);
    else if ((d.schema === DataSchema.PREFERENCE) !== preference) {
      v.add(`${field}.datasets[${i}].schema`, preference ? `${Algorithm[spec.algorithm]} needs PREFERENCE data (prompt, chosen, rejected)` : `${Algorithm[spec.algorithm]} needs CHAT or PROMPT_COMPLETION demonstrations`);
    }
  });
  spec.evalDatasets.forEach((d, i) => {
    checkDataset(v, `${field}.eval_datasets[${i}]`, d, true);
    if (d.schema !== DataSchema.UNSPECIFIED && (pretrain || d.schema === DataSchema.TEXT)) checkTextSchema(v, `${field}.eval_datasets[${i}].schema`, spec.algorithm, d.schema);
  });

  const h = spec.hyperparameters;
  if (h) {
    const hp = `${field}.hyperparameters`;
    if (h.learningRate !== 0 && !(h.learningRate > 0 && h.learningRate <= 1)) v.add(`${hp}.learning_rate`, `must be in (0, 1] (0 = algorithm default), got ${h.learningRate}`);
    if (!(h.lrSchedule in LrSchedule)) v.add(`${hp}.lr_schedule`, `unknown value ${h.lrSchedule}`);
    if (!(h.warmupRatio >= 0 && h.warmupRatio < 1)) v.add(`${hp}.warmup_ratio`, `must be in [0, 1), got ${h.warmupRatio}`);
    v.range(`${hp}.min_lr_ratio`, h.minLrRatio, 0, 1);
    const decays = h.lrSchedule === LrSchedule.LINEAR || h.lrSchedule === LrSchedule.COSINE;
    if (h.minLrRatio !== 0 && !decays) v.add(`${hp}.min_lr_ratio`, `is the final lr of LR_SCHEDULE_LINEAR/COSINE; the schedule is constant, so it must be 0, got ${h.minLrRatio}`);
    v.range(`${hp}.gradient_accumulation_steps`, h.gradientAccumulationSteps, 0, 4096, '0 = 1');
    v.range(`${hp}.batch_size`, h.batchSize, 0, 4096, '0 = 8');
    if (h.maxLength !== 0 && h.maxPromptLength >= h.maxLength) v.add(`${hp}.max_prompt_length`, `must be < max_length (${h.maxLength}), got ${h.maxPromptLength}`);
    v.range(`${hp}.weight_decay`, h.weightDecay, 0, undefined);
    if (h.maxGradNorm !== undefined) v.range(`${hp}.max_grad_norm`, h.maxGradNorm, 0, undefined, '0 = no clipping');
    if (!(h.optimizer in Optimizer)) v.add(`${hp}.optimizer`, `unknown value ${h.optimizer}`);
    for (const [name, x] of [['adam_beta1', h.adamBeta1], ['adam_beta2', h.adamBeta2], ['rmsprop_alpha', h.rmspropAlpha], ['rmsprop_momentum', h.rmspropMomentum]] as const) {
      if (!(x >= 0 && x < 1)) v.add(`${hp}.${name}`, `must be in [0, 1), got ${x}`);
    }
    v.range(`${hp}.epsilon`, h.epsilon, 0, undefined);
    // Packed text has no prompts: max_length is the window, nothing else is cut.
    if (pretrain && h.maxPromptLength !== 0) v.add(`${hp}.max_prompt_length`, `PRETRAIN packs raw text into max_length windows and has no prompts: leave it 0, got ${h.maxPromptLength}`);
    checkLora(v, `${hp}.lora`, h.lora);
  }

  const c = spec.algorithmConfig;
  const want = CONFIG_CASE_FOR[spec.algorithm];
  if (c.case !== undefined && want === undefined) v.add(`${field}.${PROTO_CASE[c.case]}`, `does not match algorithm ${Algorithm[spec.algorithm]}, which has no algorithm config (leave it unset)`);
  else if (c.case !== undefined && c.case !== want) {
    v.add(`${field}.${PROTO_CASE[c.case]}`, `does not match algorithm ${Algorithm[spec.algorithm]} (set ${PROTO_CASE[want!]} or nothing)`);
  }
  if (c.case === 'dpo' && c.value.beta < 0) v.add(`${field}.dpo.beta`, `must be > 0 (0 = 0.1), got ${c.value.beta}`);
  if (c.case === 'irft') {
    const ir = c.value;
    if (ir.beta < 0) v.add(`${field}.irft.beta`, `must be > 0 (0 = 0.1), got ${ir.beta}`);
    if (spec.algorithm === Algorithm.SPIN && ir.stages > 1) v.add(`${field}.irft.stages`, `SPIN is IRFT with one stage: must be 0 or 1, got ${ir.stages}`);
    v.range(`${field}.irft.stages`, ir.stages, 0, 1000);
    v.range(`${field}.irft.samples_per_prompt`, ir.samplesPerPrompt, 0, 64);
    // One Generate call takes at most 1024 prompts; the runner sends a stage's prompts in chunks of this.
    v.range(`${field}.irft.generation_batch_size`, ir.generationBatchSize, 0, 1024, '0 = 64');
    v.range(`${field}.irft.sft_loss_coefficient`, ir.sftLossCoefficient, 0, undefined);
    checkSampling(v, `${field}.irft.generation`, ir.generation, {});
  }
  if (c.case === 'rft') {
    const r = c.value;
    checkModelSource(v, `${field}.rft.reward_model`, r.rewardModel);
    checkSampling(v, `${field}.rft.generation`, r.generation, {});
    if (r.apaLambda < 0) v.add(`${field}.rft.apa_lambda`, `must be > 0 (0 = 0.1), got ${r.apaLambda}`);
    if (r.gaeGamma !== undefined) v.range(`${field}.rft.gae_gamma`, r.gaeGamma, 0, 1);
    if (r.gaeLambda !== undefined) v.range(`${field}.rft.gae_lambda`, r.gaeLambda, 0, 1);
    if (r.ppoClip < 0) v.add(`${field}.rft.ppo_clip`, `must be > 0 (0 = 0.2), got ${r.ppoClip}`);
    if (r.klCoef !== undefined && r.klCoef < 0) v.add(`${field}.rft.kl_coef`, `must be >= 0, got ${r.klCoef}`);
  }
  return v;
}

export function validateStartJob(req: StartJobRequest): Violations {
  const v = validateJobSpec(req.spec);
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

export function validateListJobs(req: ListJobsRequest): Violations {
  const v = new Violations();
  checkLabels(v, 'labels', req.labels);
  v.count('states', req.states.length, 0, 64);
  v.count('algorithms', req.algorithms.length, 0, 64);
  v.utf8Bytes('page_token', req.pageToken, MAX_ID_BYTES);
  v.range('page_size', req.pageSize, 0, 1000, '0 = 50');
  return v;
}

const TASK_NAME = /^[a-z0-9_.-]{1,64}$/;

export function validateTaskDefinition(v: Violations, field: string, t: TaskDefinition): void {
  if (!TASK_NAME.test(t.name)) v.add(`${field}.name`, `must match [a-z0-9_.-]{1,64}, got ${echo(t.name)}`);
  if (t.kind === TaskKind.UNSPECIFIED || !(t.kind in TaskKind)) v.add(`${field}.kind`, 'is required: PERPLEXITY, MULTIPLE_CHOICE, GENERATE_MATCH or REWARD_WIN_RATE');
  if (!t.dataset) v.add(`${field}.dataset`, 'is required');
  else checkDataset(v, `${field}.dataset`, t.dataset, false);
  v.range(`${field}.num_fewshot`, t.numFewshot, 0, 32);
  if (t.kind === TaskKind.MULTIPLE_CHOICE && t.choices.length === 0 && t.docToChoice.length === 0)
    v.add(`${field}.doc_to_choice`, 'MULTIPLE_CHOICE needs doc_to_choice or choices');
  for (const [name, re] of [['answer_regex', t.answerRegex], ['target_regex', t.targetRegex]] as const) {
    if (!re) continue;
    const problem = regexProblem(re);
    if (problem) v.add(`${field}.${name}`, problem);
  }
  checkSampling(v, `${field}.generation`, t.generation, {});
}

export function validateEvaluate(req: EvaluateRequest): Violations {
  const v = new Violations();
  const t = req.target;
  if (!t || t.kind.case === undefined) v.add('target', 'must set exactly one of model, generator_address');
  else if (t.kind.case === 'generatorAddress' && t.kind.value.length === 0) v.add('target.generator_address', 'must be "host:port" or a gRPC target URI');
  else if (t.kind.case === 'generatorAddress') v.utf8Bytes('target.generator_address', t.kind.value, MAX_PATH_BYTES);
  else if (t.kind.case === 'model') checkModelSource(v, 'target.model', t.kind.value);
  v.count('tasks', req.tasks.length, 1, 64);
  if (req.tasks.length > 64) return v;
  if (t) v.utf8Bytes('target.reward_model_address', t.rewardModelAddress, MAX_PATH_BYTES);
  v.utf8Bytes('name', req.name, MAX_ID_BYTES);
  checkLabels(v, 'labels', req.labels);
  req.tasks.forEach((s, i) => {
    if (s.kind.case === undefined) v.add(`tasks[${i}]`, 'must set exactly one of name, definition');
    else if (s.kind.case === 'definition') validateTaskDefinition(v, `tasks[${i}].definition`, s.kind.value);
    if (s.numFewshot !== undefined) v.range(`tasks[${i}].num_fewshot`, s.numFewshot, 0, 32);
  });
  v.range('batch_size', req.batchSize, 0, 1024, '0 = 16');
  v.utf8Bytes('request_id', req.requestId, 128);
  return v;
}

export function validateListRuns(req: ListRunsRequest): Violations {
  const v = new Violations();
  checkLabels(v, 'labels', req.labels);
  v.count('states', req.states.length, 0, 64);
  v.utf8Bytes('page_token', req.pageToken, MAX_ID_BYTES);
  v.range('page_size', req.pageSize, 0, 1000, '0 = 50');
  return v;
}
