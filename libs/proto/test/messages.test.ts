import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, fromBinary, fromJson, toBinary, toJson, equals } from '@bufbuild/protobuf';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import {
  Algorithm,
  DecodingMode,
  Dtype,
  FinishReason,
  GenerateRequestSchema,
  GenerateResponseSchema,
  GetReportResponseSchema,
  JobSpecSchema,
  JobState,
  PairLoss,
  TaskKind,
  WatchJobResponseSchema,
  WeightChunkSchema,
  WeightDeltaMode,
  weightChunkSha256,
} from '../src/index.js';

// Values used are exactly representable as float32, so binary round trips compare equal.
function roundTrip<Desc extends DescMessage>(schema: Desc, msg: MessageShape<Desc>): void {
  const bin = fromBinary(schema, toBinary(schema, msg));
  assert.ok(equals(schema, msg, bin), `${schema.typeName} binary round trip`);
  const json = fromJson(schema, toJson(schema, msg));
  assert.ok(equals(schema, msg, json), `${schema.typeName} JSON round trip`);
}

test('GenerateRequest with every prompt kind and optional sampling fields', () => {
  const req = create(GenerateRequestSchema, {
    prompts: [
      { kind: { case: 'text', value: 'Hello' } },
      { kind: { case: 'chat', value: { messages: [{ role: 'user', content: 'Hi' }] } } },
      { kind: { case: 'tokens', value: { ids: [1, 2, 3] } } },
    ],
    n: 4,
    sampling: { temperature: 0, topP: 0.5, topK: 50, stop: ['\n\n'], seed: 7n, logprobs: true, topLogprobs: 5 },
    echo: true,
    minWeightVersion: 3n,
  });
  roundTrip(GenerateRequestSchema, req);
  // temperature 0 (greedy) must survive: it is `optional`, so presence is kept on the wire.
  const back = fromBinary(GenerateRequestSchema, toBinary(GenerateRequestSchema, req));
  assert.equal(back.sampling?.temperature, 0);
  assert.equal(create(GenerateRequestSchema, {}).sampling?.temperature, undefined);
});

test('GenerateResponse stamps version, seed and decoding mode per sample', () => {
  const res = create(GenerateResponseSchema, {
    results: [
      {
        promptIndex: 0,
        samples: [
          {
            sampleIndex: 0,
            text: 'ok',
            tokenIds: [5, 6, 2],
            logprobs: [-0.5, -1.25, -0.125],
            topLogprobs: [{ tokenIds: [5, 9], logprobs: [-0.5, -2] }],
            finishReason: FinishReason.EOS,
            stopTokenId: 2,
            seed: 123n,
            decodingMode: DecodingMode.SAMPLING,
            weightVersion: 9n,
          },
        ],
      },
    ],
    weightVersion: { number: 9n, label: 'irft/stage1' },
    usage: { promptTokens: 10n, completionTokens: 3n },
  });
  roundTrip(GenerateResponseSchema, res);
  const json = toJson(GenerateResponseSchema, res) as { results: { samples: { finishReason: string }[] }[] };
  assert.equal(json.results[0]!.samples[0]!.finishReason, 'FINISH_REASON_EOS');
});

test('WeightChunk carries a header, tensor bytes and the canonical checksum', () => {
  const data = new Uint8Array(new Float32Array([1, -2, 0.5, 3.25]).buffer);
  const tensors = [
    { name: 'model.embed_tokens.weight', dtype: Dtype.FLOAT32, shape: [2n, 2n], data, offset: 0n },
    { name: 'lm_head.weight', dtype: Dtype.FLOAT16, shape: [3n], data: Uint8Array.of(0, 60, 0, 64, 0, 66), offset: 0n },
  ];
  // Vector computed independently (Python hashlib/struct) from the spec in common.proto.
  const sha256 = weightChunkSha256(tensors);
  assert.equal(sha256, '7b2d1c5995d446ca7325d26c0ccd5b4c1c943e597d10409a6a384b8831d0a6cb');
  assert.equal(weightChunkSha256([]), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  const chunk = create(WeightChunkSchema, {
    header: {
      version: { number: 2n, label: 'step-100' },
      totalTensors: 2,
      totalBytes: 22n,
      deltaMode: WeightDeltaMode.REPLACE,
      baseVersion: 1n,
      stageOnly: true,
    },
    tensors,
    sha256,
    sequence: 0n,
  });
  roundTrip(WeightChunkSchema, chunk);
  const back = fromBinary(WeightChunkSchema, toBinary(WeightChunkSchema, chunk));
  assert.equal(weightChunkSha256(back.tensors), sha256);
});

test('JobSpec with an IRFT config and WatchJobResponse events', () => {
  const spec = create(JobSpecSchema, {
    name: 'irft-demo',
    labels: { team: 'juice' },
    algorithm: Algorithm.IRFT,
    model: { kind: { case: 'hfDir', value: '/models/pythia-160m' } },
    datasets: [{ path: 'data/hh.jsonl' }],
    hyperparameters: { learningRate: 5e-7, maxGradNorm: 0, lora: { rank: 64, alpha: 16 } },
    algorithmConfig: { case: 'irft', value: { beta: 0.125, loss: PairLoss.LOGISTIC, stages: 5, generation: { temperature: 0 } } },
    endpoints: { generator: ['dns:///generator:50051'] },
    evaluation: { everyNSteps: 100n, tasks: [{ kind: { case: 'name', value: 'hh_ppl' } }], bestMetric: 'eval/loss' },
  });
  roundTrip(JobSpecSchema, spec);
  assert.equal(fromBinary(JobSpecSchema, toBinary(JobSpecSchema, spec)).hyperparameters?.maxGradNorm, 0);

  const ev = create(WatchJobResponseSchema, {
    sequence: 1n,
    jobId: 'j1',
    time: { seconds: 1_700_000_000n, nanos: 5 },
    event: { case: 'stateChange', value: { from: JobState.PENDING, to: JobState.RUNNING, reason: 'started' } },
  });
  roundTrip(WatchJobResponseSchema, ev);
  const metrics = create(WatchJobResponseSchema, {
    sequence: 2n,
    event: { case: 'stepMetrics', value: { step: 10n, metrics: { loss: 0.69, 'reward/margin': 0.01 } } },
  });
  roundTrip(WatchJobResponseSchema, metrics);
  assert.equal((toJson(WatchJobResponseSchema, ev) as { time: string }).time, '2023-11-14T22:13:20.000000005Z');
});

test('GetReportResponse keeps metrics as a JSON Struct', () => {
  const report = create(GetReportResponseSchema, {
    run: { runId: 'r1', name: 'nightly' },
    results: [{ task: 'arc_easy', kind: TaskKind.MULTIPLE_CHOICE, metrics: { acc: 0.5, acc_norm: 0.55 }, numDocs: 100n }],
    metrics: { arc_easy: { acc: 0.5, acc_norm: 0.55 } },
    html: '<html></html>',
  });
  roundTrip(GetReportResponseSchema, report);
  const json = toJson(GetReportResponseSchema, report) as { metrics: Record<string, Record<string, number>> };
  assert.deepEqual(json.metrics, { arc_easy: { acc: 0.5, acc_norm: 0.55 } });
});
