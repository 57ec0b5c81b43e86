// StartJob's limits on the IRFT config are checked at submission, so a job never starts only to fail
// on a value the contract rules out (the violation names the field and the valid range).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { Algorithm, DataSchema, StartJobRequestSchema, validateStartJob } from '@juice/proto';

const request = (irft: Record<string, number>) =>
  create(StartJobRequestSchema, { spec: { algorithm: Algorithm.IRFT, datasets: [{ path: 'train.jsonl', schema: DataSchema.CHAT }], algorithmConfig: { case: 'irft', value: irft } } });

test('IRFT generation_batch_size and sft_loss_coefficient out of range are named; in range passes', () => {
  assert.deepEqual(validateStartJob(request({ generationBatchSize: 64, sftLossCoefficient: 0.5, samplesPerPrompt: 2 })).list, []);
  const fields = validateStartJob(request({ generationBatchSize: 2000, sftLossCoefficient: -1 })).list.map((x) => x.field);
  assert.deepEqual(fields.sort(), ['spec.irft.generation_batch_size', 'spec.irft.sft_loss_coefficient']);
});
