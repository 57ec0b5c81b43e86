// `juice pretrain`: pretrain the real-text preset's base on Jane Austen's novels (r-cran-janeaustenr) with
// an ALGORITHM_PRETRAIN job on a trainer started for it, and keep it in the base store (reused by later
// runs with the same corpus, plan and seed; `juice run --corpus wordnet --pretrain austen` starts from it).
// Prints the base's directory.
import { ConfigError, defineConfig, parseConfig } from '@juice/service-kit';
import { defaultBaseStore, pretrainedBase, PRETRAIN_PLAN, QUICK_PRETRAIN_PLAN, type PretrainPlan } from '../pipeline/pretrain-base.js';

export const pretrainSpec = defineConfig({
  corpus: { type: 'string', default: 'austen', choices: ['austen'], help: 'the pretraining text: austen = Jane Austen\'s six novels (apt-get install r-cran-janeaustenr)' },
  quick: { type: 'bool', default: false, help: 'a tiny base for a few seconds of pretraining (tests)' },
  baseStore: { type: 'string', flag: 'base-store', help: 'directory of pretrained bases (default $JUICE_BASE_STORE or ~/.cache/juice/bases)' },
  seed: { type: 'int', default: 0, min: 0, help: 'seed of the split, the initial weights and the data order (0 = 42)' },
  steps: { type: 'int', default: 0, min: 0, help: 'optimizer steps (0 = the plan\'s)' },
  lr: { type: 'float', default: 0, min: 0, help: 'peak learning rate, cosine decay (0 = the plan\'s)' },
  austenPath: { type: 'string', flag: 'austen-path', help: 'the janeaustenr data base without .rdb/.rdx (default: the Debian package\'s)' },
});

type Pretrain = ReturnType<typeof parseConfig<typeof pretrainSpec>>;

export function pretrainPlanFrom(o: { quick: boolean; steps?: number; lr?: number }): PretrainPlan {
  const base = o.quick ? QUICK_PRETRAIN_PLAN : PRETRAIN_PLAN;
  return { ...base, steps: o.steps || base.steps, learningRate: o.lr || base.learningRate };
}

export async function pretrainCommand(argv: string[]): Promise<number> {
  const c: Pretrain = parseConfig(pretrainSpec, argv, process.env, { name: 'juice pretrain', description: 'pretrain the real-text base on a packaged corpus, kept in the base store' });
  if (c.corpus !== 'austen') throw new ConfigError(`--corpus ${c.corpus}: only austen is packaged`);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  try {
    const base = await pretrainedBase({ store: c.baseStore || defaultBaseStore(), plan: pretrainPlanFrom(c), seed: c.seed || 42, austenPath: c.austenPath, say: (l) => process.stdout.write(`${l}\n`), signal: abort.signal });
    process.stdout.write(`base ${base.dir}\n`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
