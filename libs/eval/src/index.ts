// @juice/eval: lm-evaluation-harness-style evaluation (perplexity, multiple choice,
// generate-and-match, reward win-rate) against any EvalModel, plus JSON/HTML/SVG reports.
export type {
  ChatTurn,
  CompareItem,
  CompareResult,
  EvalModel,
  GenerateItem,
  GenerateResult,
  LoglikelihoodItem,
  LoglikelihoodResult,
  ModelCallOptions,
  RewardScorer,
  SamplingParamsInit,
} from './model.js';
export { generatorEvalModel, rewardModelScorer, type AdapterOptions, type GeneratorClientLike, type RewardClientLike } from './grpc-adapters.js';
export { chunks, cutAtStop } from './batch.js';
export {
  canonicalJson,
  loadTaskData,
  parseJsonl,
  parseSplit,
  readDataset,
  selectRows,
  sha256Json,
  taskDataFromRows,
  type Doc,
  type RowDoc,
  type RowRange,
  type TaskData,
} from './task-data.js';
export { parseChoices, renderText, resolveSpec, targetIndex } from './template.js';
export { compileRegex, exactMatch, extractAnswer, normalise, type NormaliseOptions } from './extract.js';
export { BOOTSTRAP_RESAMPLES, bootstrapStderr, mean, sampleIndices, sampleStd, seededRng, sigmoid, stderrOfMean, type Rng } from './stats.js';
export { logGamma, incompleteBeta, studentTCdf, studentTQuantile, meanInterval, pairedDifferenceInterval, type MeanInterval } from './stats.js';
export { TaskView, type DocContext } from './tasks/view.js';
export { KIND_METRICS } from './tasks/kind.js';
export { winScore } from './tasks/reward-win-rate.js';
export {
  DEFAULT_BATCH_SIZE,
  DEFAULT_SEED,
  runEvaluation,
  runTask,
  taskSha256,
  type RunEvaluationOptions,
  type RunProgressEvent,
  type RunTaskOptions,
  type TaskDefinitionInit,
  type TaskEntry,
} from './run.js';
export { reportHtml, reportJson, type EvalRunLike, type ReportHtmlOptions } from './report.js';
export { compareHtml, flattenMetrics, type CurveChart, type MetricsLike, type ModelMetrics } from './compare.js';
export { intervalsHtml, type IntervalMetric, type IntervalValue, type IntervalsPageOptions } from './intervals.js';
export {
  PALETTE,
  escapeXml,
  formatNumber,
  niceTicks,
  svgBarChart,
  svgLineChart,
  type Bar,
  type BarGroup,
  type ChartOptions,
  type LinePoint,
  type LineSeries,
} from './svg.js';
