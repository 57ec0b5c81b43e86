// Generate's prompt_logprobs, in process on the embedded default model: each prompt token's log-prob
// given the ones before it (entry 0 = 0, vLLM semantics) must equal ScoreCompletions' token log-probs
// for the same tokens — scored as one continuation and, independently, token by token with each
// prefix as the context — and the engine's own raw log-probs for tokens it generated. After new weights
// are served, both move together (one weight version per call). Unsupported combinations are refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { createDefaultModel } from '@juice/models';
import { GenerateRequestSchema, GenerateResponseSchema, GenerateStreamRequestSchema, LogprobSource, ScoreCompletionsRequestSchema, ScoreCompletionsResponseSchema } from '@juice/proto';
import { ServiceError } from '@juice/service-kit';
import { ModelHost, type WeightMap } from '../src/model-host.js';
import { createGeneratorService } from '../src/generator-service.js';

const dir = join(mkdtempSync(join(tmpdir(), 'juice-prompt-logprobs-')), 'model');
createDefaultModel(dir, { corpus: Array.from({ length: 60 }, (_, i) => `What is ${i}+${i % 7}? ${i + (i % 7)}`), seed: 3 });
let host: ModelHost;
let svc: ReturnType<typeof createGeneratorService>;
/** A fresh call context per call, as gRPC gives each call its own signal. */
const ctx = () => ({ signal: new AbortController().signal, span: { setAttributes() {} } }) as never;

before(async () => {
  host = await ModelHost.load({ modelDir: dir, maxBatch: 8, maxQueue: 64 });
  svc = createGeneratorService(host);
});
after(async () => {
  await host.close();
});

const tokens = (ids: number[]) => ({ kind: { case: 'tokens' as const, value: { ids } } });
const generate = async (r: MessageInitShape<typeof GenerateRequestSchema>) => create(GenerateResponseSchema, await svc.generate!(create(GenerateRequestSchema, r), ctx()));
const score = async (items: { context: number[]; completion: number[] }[]) =>
  create(
    ScoreCompletionsResponseSchema,
    await svc.scoreCompletions!(create(ScoreCompletionsRequestSchema, { items: items.map((it) => ({ prompt: tokens(it.context), completion: tokens(it.completion) })), tokenLogprobs: true }), ctx()),
  );

/** Prompt log-probs of each prompt (n samples each, greedy, 2 new tokens). */
async function promptLogprobs(prompts: number[][], n = 1): Promise<{ logprobs: number[][]; version: bigint }> {
  const res = await generate({ prompts: prompts.map(tokens), n, sampling: { promptLogprobs: true, temperature: 0, maxNewTokens: 2 } });
  return { logprobs: res.results.map((r) => r.promptLogprobs), version: res.weightVersion!.number };
}

function assertClose(actual: number[], expected: number[], tol: number, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: lengths`);
  let worst = 0;
  actual.forEach((a, i) => (worst = Math.max(worst, Math.abs(a - expected[i]!))));
  assert.ok(worst <= tol, `${what}: max |diff| ${worst} > ${tol}`);
  return worst;
}

const tok = () => host.model.tokenizer;

test('prompt_logprobs equal ScoreCompletions token log-probs of the same tokens; entry 0 is 0', async () => {
  const a = tok().encode('What is 12+3? 15', { addSpecialTokens: true });
  const b = tok().encode('What is 40+5?', { addSpecialTokens: true });
  const one = [a[0]!];
  const { logprobs } = await promptLogprobs([a, b, one], 2);
  assert.deepEqual([logprobs[0]!.length, logprobs[1]!.length, logprobs[2]!.length], [a.length, b.length, 1]);
  for (const lp of logprobs) assert.equal(lp[0], 0, 'the first token has no context');
  // The rest, as one continuation of the first token.
  const whole = await score([{ context: [a[0]!], completion: a.slice(1) }, { context: [b[0]!], completion: b.slice(1) }]);
  const d1 = assertClose(logprobs[0]!.slice(1), whole.results[0]!.tokenLogprobs, 1e-5, 'prompt a vs ScoreCompletions');
  const d2 = assertClose(logprobs[1]!.slice(1), whole.results[1]!.tokenLogprobs, 1e-5, 'prompt b vs ScoreCompletions');
  // Token by token, each prefix its own context (the definition, independent of batching and padding).
  const prefixes = await score(a.slice(1).map((t, i) => ({ context: a.slice(0, i + 1), completion: [t] })));
  const d3 = assertClose(logprobs[0]!.slice(1), prefixes.results.map((r) => r.tokenLogprobs[0]!), 1e-4, 'prompt a vs prefix-by-prefix');
  for (const x of logprobs[0]!) assert.ok(x <= 0 && Number.isFinite(x));
  console.log(`max |prompt_logprobs - ScoreCompletions| ${Math.max(d1, d2)}, vs prefix-by-prefix ${d3}`);
});

test("prompt_logprobs over generated tokens equal the engine's raw sample log-probs", async () => {
  const p = tok().encode('What is 7+2?', { addSpecialTokens: true });
  const gen = await generate({ prompts: [tokens(p)], sampling: { temperature: 0, maxNewTokens: 6, ignoreEos: true, logprobs: true } });
  const sample = gen.results[0]!.samples[0]!;
  const { logprobs } = await promptLogprobs([[...p, ...sample.tokenIds]]);
  const d = assertClose(logprobs[0]!.slice(p.length), sample.logprobs, 1e-4, 'KV-cache engine vs prompt scoring');
  console.log(`max |prompt_logprobs - engine sample logprobs| ${d}`);
});

test('new served weights move prompt_logprobs and ScoreCompletions together', async () => {
  const p = tok().encode('What is 9+9? 18', { addSpecialTokens: true });
  const before = await promptLogprobs([p]);
  const scaled: WeightMap = new Map([...host.model.params.entries].map((e) => [e.name, host.model.params.view(e.name).map((x) => x * 1.5)]));
  await host.serveWeights(1n, scaled);
  try {
    const afterPush = await promptLogprobs([p]);
    assert.equal(afterPush.version, 1n);
    assert.ok(Math.abs(afterPush.logprobs[0]![1]! - before.logprobs[0]![1]!) > 1e-3, 'the new weights change the log-probs');
    const scored = await score([{ context: [p[0]!], completion: p.slice(1) }]);
    assert.equal(scored.weightVersion!.number, 1n);
    assertClose(afterPush.logprobs[0]!.slice(1), scored.results[0]!.tokenLogprobs, 1e-5, 'after the push');
  } finally {
    await host.serveWeights(0n, new Map([...host.model.params.entries].map((e) => [e.name, host.model.params.view(e.name)])));
  }
});

test('without prompt_logprobs the field stays empty; unsupported combinations are refused naming the field', async () => {
  const p = tokens(tok().encode('What is 1+1?', { addSpecialTokens: true }));
  const plain = await generate({ prompts: [p], sampling: { temperature: 0, maxNewTokens: 1 } });
  assert.deepEqual(plain.results[0]!.promptLogprobs, []);
  const refused = async (f: () => Promise<unknown>, code: string, field: string) => {
    await assert.rejects(f, (e: unknown) => e instanceof ServiceError && e.codeName === code && e.message.includes(field));
  };
  await refused(() => generate({ prompts: [p], sampling: { promptLogprobs: true, topLogprobs: 3, maxNewTokens: 1 } }), 'UNIMPLEMENTED', 'sampling.top_logprobs');
  await refused(() => generate({ prompts: [p], sampling: { promptLogprobs: true, logprobSource: LogprobSource.PROCESSED, maxNewTokens: 1 } }), 'UNIMPLEMENTED', 'sampling.logprob_source');
  await refused(async () => {
    for await (const _ of svc.generateStream!(create(GenerateStreamRequestSchema, { prompts: [p], sampling: { promptLogprobs: true, maxNewTokens: 1 } }), ctx()));
  }, 'INVALID_ARGUMENT', 'sampling.prompt_logprobs');
});
