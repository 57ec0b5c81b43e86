// `juice score`: reward of a response (or the preference between two) from a running reward-model.
import { RewardModelService } from '@juice/proto';
import { applyPeerConfig, createClient, defineConfig, parseConfig, peerConfigSpec } from '@juice/service-kit';

export const scoreSpec = defineConfig({
  ...peerConfigSpec, // --peer-tls-ca/-cert/-key and --peer-token-file: how to reach a secured role
  rewardModel: { type: 'string', flag: 'reward-model', env: 'JUICE_REWARD_MODEL_ADDRESS', default: '127.0.0.1:50052', help: 'reward-model address' },
  prompt: { type: 'string', required: true, help: 'prompt text' },
  response: { type: 'string', required: true, help: 'response to score' },
  versus: { type: 'string', help: 'a second response: print the probability that --response is preferred' },
});

export async function scoreCommand(argv: string[]): Promise<number> {
  const c = parseConfig(scoreSpec, argv, process.env, { name: 'juice score' });
  applyPeerConfig(c);
  const client = createClient(RewardModelService, c.rewardModel);
  const prompt = { kind: { case: 'text' as const, value: c.prompt } };
  const text = (t: string) => ({ kind: { case: 'text' as const, value: t } });
  try {
    if (c.versus !== undefined) {
      const r = (await client.compare({ pairs: [{ prompt, responseA: text(c.response), responseB: text(c.versus) }] })).results[0]!;
      process.stdout.write(`P(response preferred) = ${r.probAPreferred.toFixed(4)}  (rewards ${r.rewardA.toFixed(4)} vs ${r.rewardB.toFixed(4)})\n`);
    } else {
      const r = (await client.score({ items: [{ prompt, response: text(c.response) }] })).results[0]!;
      process.stdout.write(`reward = ${r.reward.toFixed(4)}\n`);
    }
    return 0;
  } finally {
    client.close();
  }
}
