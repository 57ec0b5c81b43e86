// `juice merge`: a PEFT LoRA adapter merged into its base model (W + scaling·B·A), written as a plain
// Hugging Face model directory that any role (and transformers) loads without PEFT.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { saveHfDir, HF_SIDE_FILES } from '@juice/checkpoint';
import { configToHf, loadModelWithAdapter, sequenceClassifierClass } from '@juice/models';
import { defineConfig, parseConfig } from '@juice/service-kit';

export const mergeSpec = defineConfig({
  base: { type: 'string', required: true, help: 'base model directory (config.json, model.safetensors, tokenizer)' },
  adapter: { type: 'string', required: true, help: 'PEFT adapter directory (adapter_config.json, adapter_model.safetensors)' },
  out: { type: 'string', required: true, help: 'output directory for the merged model' },
});

/** Merges and writes; returns the files written. */
export function mergeAdapter(base: string, adapter: string, out: string): string[] {
  const probe = loadModelWithAdapter(base, adapter, JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')).task_type === 'SEQ_CLS' ? 'reward' : 'lm');
  const reward = probe.adapter.taskType === 'SEQ_CLS';
  const extra: Record<string, unknown> = { _name_or_path: `${probe.adapter.baseModelNameOrPath || probe.name}+lora` };
  if (reward) Object.assign(extra, { architectures: [sequenceClassifierClass(probe.config)], num_labels: 1 });
  return saveHfDir(out, {
    config: configToHf(probe.config, extra),
    tensors: probe.params.entries.map((e) => [e.name, { shape: e.shape, data: probe.params.view(e.name) }] as [string, { shape: readonly number[]; data: Float32Array }]),
    extraFiles: Object.fromEntries(HF_SIDE_FILES.filter((f) => existsSync(join(base, f))).map((f) => [f, readFileSync(join(base, f))])),
  });
}

export async function mergeCommand(argv: string[]): Promise<number> {
  const c = parseConfig(mergeSpec, argv, process.env, { name: 'juice merge' });
  const written = mergeAdapter(c.base, c.adapter, c.out);
  process.stdout.write(`merged ${c.adapter} into ${c.base}: ${written.join(', ')}\n`);
  return 0;
}
