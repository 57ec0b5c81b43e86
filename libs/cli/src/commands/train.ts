// `juice train`: start a job on a running trainer and follow it with a progress bar.
import { extname } from 'node:path';
import { resolve } from 'node:path';
import { Algorithm, DataSchema, TrainerService, JobState } from '@juice/proto';
import { applyPeerConfig, createClient, defineConfig, parseConfig, peerConfigSpec } from '@juice/service-kit';
import { Progress } from '../progress.js';

export const trainSpec = defineConfig({
  ...peerConfigSpec, // --peer-tls-ca/-cert/-key and --peer-token-file: how to reach a secured role
  trainer: { type: 'string', env: 'JUICE_TRAINER_ADDRESS', default: '127.0.0.1:50053', help: 'trainer address' },
  algorithm: { type: 'string', required: true, choices: ['sft', 'reward-model', 'dpo', 'irft', 'spin', 'rft'], help: 'training algorithm' },
  data: { type: 'list', required: true, help: 'training data files (.jsonl or .parquet), comma separated' },
  schema: { type: 'string', default: 'chat', choices: ['chat', 'prompt-completion', 'preference'], help: 'row layout of the data' },
  model: { type: 'string', help: 'Hugging Face model directory (default: the embedded model)' },
  steps: { type: 'int', default: 0, min: 0, help: 'max optimizer steps (0 = the algorithm decides)' },
  lr: { type: 'float', default: 0, min: 0, help: 'learning rate (0 = algorithm default)' },
  name: { type: 'string', default: '', help: 'job name' },
  detach: { type: 'bool', default: false, help: 'print the job id and return without watching' },
});

const ALGORITHMS: Record<string, Algorithm> = { sft: Algorithm.SFT, 'reward-model': Algorithm.REWARD_MODEL, dpo: Algorithm.DPO, irft: Algorithm.IRFT, spin: Algorithm.SPIN, rft: Algorithm.RFT };
const SCHEMAS: Record<string, DataSchema> = { chat: DataSchema.CHAT, 'prompt-completion': DataSchema.PROMPT_COMPLETION, preference: DataSchema.PREFERENCE };

export async function trainCommand(argv: string[]): Promise<number> {
  const c = parseConfig(trainSpec, argv, process.env, { name: 'juice train' });
  applyPeerConfig(c);
  const client = createClient(TrainerService, c.trainer);
  try {
    const { job } = await client.startJob({
      spec: {
        name: c.name,
        algorithm: ALGORITHMS[c.algorithm]!,
        model: c.model ? { kind: { case: 'hfDir', value: resolve(c.model) } } : undefined,
        datasets: c.data.map((p) => ({ path: resolve(p), schema: SCHEMAS[c.schema]!, format: undefined, split: '' })).map((d) => ({ ...d, format: extname(d.path) === '.parquet' ? 2 : 1 })),
        hyperparameters: { maxSteps: BigInt(c.steps), learningRate: c.lr },
      },
    });
    process.stdout.write(`job ${job!.id}\n`);
    if (c.detach) return 0;
    const bar = new Progress(`${c.algorithm} ${job!.id}`);
    let final = JobState.UNSPECIFIED;
    for await (const e of client.watchJob({ jobId: job!.id, fromBeginning: true, omitLogs: true })) {
      if (e.event.case === 'stepMetrics') {
        const m = e.event.value.metrics;
        const total = Number(job!.progress?.totalSteps ?? 0n);
        bar.update(total ? Number(e.event.value.step) / total : 0, `step ${e.event.value.step} loss ${(m.loss ?? NaN).toFixed(4)}`);
      } else if (e.event.case === 'stateChange') final = e.event.value.to;
      else if (e.event.case === 'error') process.stderr.write(`\nerror: ${e.event.value.code}: ${e.event.value.message}\n`);
    }
    bar.done(JobState[final]);
    const done = (await client.getJob({ jobId: job!.id })).job;
    if (done?.lastCheckpoint?.path) process.stdout.write(`checkpoint ${done.lastCheckpoint.path}\n`);
    if (done?.error) process.stderr.write(`${done.error.code}: ${done.error.message}\n`);
    return final === JobState.SUCCEEDED ? 0 : 1;
  } finally {
    client.close();
  }
}
