import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DescService } from '@bufbuild/protobuf';
import { EvaluatorService, GeneratorService, RewardModelService, TrainerService, juiceServices } from '../src/index.js';

type Kind = 'unary' | 'server_streaming' | 'client_streaming' | 'bidi_streaming';

function methodKinds(service: DescService): Record<string, Kind> {
  return Object.fromEntries(service.methods.map((m) => [m.name, m.methodKind]));
}

test('GeneratorService methods and streaming kinds', () => {
  assert.equal(GeneratorService.typeName, 'juice.v1.GeneratorService');
  assert.deepEqual(methodKinds(GeneratorService), {
    Generate: 'unary',
    GenerateStream: 'server_streaming',
    ScoreCompletions: 'unary',
    GetModelInfo: 'unary',
    GetWeightVersion: 'unary',
    PushWeights: 'client_streaming',
    ActivateWeights: 'unary',
    RemoveAdapter: 'unary',
  });
  assert.equal(GeneratorService.method.pushWeights.input.typeName, 'juice.v1.WeightChunk');
  assert.equal(GeneratorService.method.pushWeights.output.typeName, 'juice.v1.PushWeightsResponse');
});

test('RewardModelService methods and streaming kinds', () => {
  assert.equal(RewardModelService.typeName, 'juice.v1.RewardModelService');
  assert.deepEqual(methodKinds(RewardModelService), {
    Score: 'unary',
    Compare: 'unary',
    GetModelInfo: 'unary',
    GetWeightVersion: 'unary',
    PushWeights: 'client_streaming',
    ActivateWeights: 'unary',
  });
});

test('TrainerService methods and streaming kinds', () => {
  assert.equal(TrainerService.typeName, 'juice.v1.TrainerService');
  assert.deepEqual(methodKinds(TrainerService), {
    StartJob: 'unary',
    GetJob: 'unary',
    ListJobs: 'unary',
    CancelJob: 'unary',
    ResumeJob: 'unary',
    WatchJob: 'server_streaming',
    ListCheckpoints: 'unary',
  });
});

test('EvaluatorService methods and streaming kinds', () => {
  assert.equal(EvaluatorService.typeName, 'juice.v1.EvaluatorService');
  assert.deepEqual(methodKinds(EvaluatorService), {
    Evaluate: 'unary',
    WatchRun: 'server_streaming',
    GetReport: 'unary',
    ListRuns: 'unary',
    CancelRun: 'unary',
    ListTasks: 'unary',
  });
});

test('juiceServices lists the four services, each method with a grpc path', () => {
  assert.deepEqual(
    juiceServices.map((s) => s.typeName),
    ['juice.v1.GeneratorService', 'juice.v1.RewardModelService', 'juice.v1.TrainerService', 'juice.v1.EvaluatorService'],
  );
  for (const s of juiceServices) {
    for (const m of s.methods) assert.match(`/${s.typeName}/${m.name}`, /^\/juice\.v1\.\w+Service\/\w+$/);
  }
});
