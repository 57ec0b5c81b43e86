// The juice.v1 gRPC contracts: generated protobuf-es messages, enums and service descriptors
// (from proto/juice/v1 via `npm run gen`; never edit src/gen by hand).
import { file_juice_v1_common } from './gen/juice/v1/common_pb.js';
import { EvaluatorService, file_juice_v1_evaluator } from './gen/juice/v1/evaluator_pb.js';
import { GeneratorService, file_juice_v1_generator } from './gen/juice/v1/generator_pb.js';
import { RewardModelService, file_juice_v1_reward } from './gen/juice/v1/reward_pb.js';
import { TrainerService, file_juice_v1_trainer } from './gen/juice/v1/trainer_pb.js';

export * from './gen/juice/v1/common_pb.js';
export * from './gen/juice/v1/generator_pb.js';
export * from './gen/juice/v1/reward_pb.js';
export * from './gen/juice/v1/trainer_pb.js';
export * from './gen/juice/v1/evaluator_pb.js';
export { weightChunkSha256 } from './weight-checksum.js';
export { encodeWeightChunk } from './weight-chunk-binary.js';
export * from './status-error.js';
export { jsonSyntaxError, describeJsonError, type JsonSyntaxError } from './json-error.js';

/** Every juice.v1 service descriptor (for server reflection, health and client factories). */
export const juiceServices = [GeneratorService, RewardModelService, TrainerService, EvaluatorService] as const;

/** Every juice.v1 file descriptor, dependencies first. */
export const juiceFiles = [
  file_juice_v1_common,
  file_juice_v1_generator,
  file_juice_v1_reward,
  file_juice_v1_evaluator,
  file_juice_v1_trainer,
] as const;
export * from './validate/index.js';
