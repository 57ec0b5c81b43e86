// `juice generate`: sample from a running generator (streams tokens to stdout with --stream).
import { GeneratorService } from '@juice/proto';
import { applyPeerConfig, createClient, defineConfig, parseConfig, peerConfigSpec } from '@juice/service-kit';

export const generateSpec = defineConfig({
  ...peerConfigSpec, // --peer-tls-ca/-cert/-key and --peer-token-file: how to reach a secured role
  generator: { type: 'string', env: 'JUICE_GENERATOR_ADDRESS', default: '127.0.0.1:50051', help: 'generator address' },
  prompt: { type: 'string', required: true, help: 'prompt text (sent as a single user turn with --chat)' },
  chat: { type: 'bool', default: false, help: "render the prompt with the model's chat template" },
  n: { type: 'int', default: 1, min: 1, max: 64, help: 'samples' },
  temperature: { type: 'float', default: 1, min: 0, help: '0 = greedy' },
  topP: { type: 'float', flag: 'top-p', default: 1, help: 'nucleus sampling' },
  topK: { type: 'int', flag: 'top-k', default: 0, help: '0 = off' },
  maxNewTokens: { type: 'int', flag: 'max-new-tokens', default: 64, min: 1, help: 'tokens to generate' },
  seed: { type: 'int', default: -1, help: 'seed (-1 = server picks)' },
  stop: { type: 'list', default: [], help: 'stop strings, comma separated' },
  stream: { type: 'bool', default: false, help: 'print tokens as they are produced' },
  json: { type: 'bool', default: false, help: 'print the full response as JSON' },
});

export async function generateCommand(argv: string[]): Promise<number> {
  const c = parseConfig(generateSpec, argv, process.env, { name: 'juice generate' });
  applyPeerConfig(c);
  const client = createClient(GeneratorService, c.generator);
  const prompt = c.chat ? { kind: { case: 'chat' as const, value: { messages: [{ role: 'user', content: c.prompt }] } } } : { kind: { case: 'text' as const, value: c.prompt } };
  const sampling = { temperature: c.temperature, topP: c.topP, topK: c.topK, maxNewTokens: c.maxNewTokens, stop: c.stop, seed: c.seed >= 0 ? BigInt(c.seed) : undefined, logprobs: true };
  try {
    if (c.stream) {
      for await (const piece of client.generateStream({ prompts: [prompt], n: c.n, sampling })) {
        process.stdout.write(piece.text);
        if (piece.finished) process.stdout.write(`\n[sample ${piece.sampleIndex}: ${piece.finishReason}, weight version ${piece.weightVersion}]\n`);
      }
    } else {
      const res = await client.generate({ prompts: [prompt], n: c.n, sampling });
      if (c.json) process.stdout.write(JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 1) + '\n');
      else for (const s of res.results[0]?.samples ?? []) process.stdout.write(`${s.text}\n`);
    }
    return 0;
  } finally {
    client.close();
  }
}
