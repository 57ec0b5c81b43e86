// Unknown enum numbers and non-finite floats anywhere in a request, found by the descriptor walk.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { GenerateRequestSchema, ListJobsRequestSchema, StartJobRequestSchema, EvaluateRequestSchema } from '@juice/proto';
import { checkWireValues } from '../src/wire-values.js';

test('an unknown enum value survives decoding and is named by the walk', () => {
  const bytes = toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { sampling: { logprobSource: 99 as never } }));
  const decoded = fromBinary(GenerateRequestSchema, bytes);
  assert.equal(decoded.sampling?.logprobSource, 99);
  const v = checkWireValues(GenerateRequestSchema, decoded);
  assert.equal(v[0]?.field, 'sampling.logprob_source');
  assert.match(v[0]!.problem, /unknown LogprobSource value 99; valid: 0 \(LOGPROB_SOURCE_UNSPECIFIED\)/);
});

test('NaN and Inf in any float field, in oneofs, lists and optional fields', () => {
  const job = create(StartJobRequestSchema, { spec: { algorithm: 4, algorithmConfig: { case: 'irft', value: { beta: Number.NaN } }, hyperparameters: { learningRate: Number.POSITIVE_INFINITY, maxGradNorm: Number.NaN } } });
  const fields = checkWireValues(StartJobRequestSchema, job).map((x) => x.field).sort();
  assert.deepEqual(fields, ['spec.hyperparameters.learning_rate', 'spec.hyperparameters.max_grad_norm', 'spec.irft.beta']);
  const gen = create(GenerateRequestSchema, { sampling: { temperature: Number.NEGATIVE_INFINITY } });
  assert.deepEqual(checkWireValues(GenerateRequestSchema, gen).map((x) => x.field), ['sampling.temperature']);
  // Repeated enums (ListJobs.states) are checked element by element.
  const list = create(ListJobsRequestSchema, { states: [1, 77 as never] });
  assert.deepEqual(checkWireValues(ListJobsRequestSchema, list).map((x) => x.field), ['states[1]']);
  // Nested task definitions inside a oneof of a list entry.
  const ev = create(EvaluateRequestSchema, { tasks: [{ kind: { case: 'definition', value: { name: 't', kind: 42 as never } } }] });
  assert.deepEqual(checkWireValues(EvaluateRequestSchema, ev).map((x) => x.field), ['tasks[0].definition.kind']);
});

test('a valid request has no violations', () => {
  const ok = create(StartJobRequestSchema, { spec: { algorithm: 1, hyperparameters: { learningRate: 1e-4 } } });
  assert.deepEqual(checkWireValues(StartJobRequestSchema, ok), []);
});
