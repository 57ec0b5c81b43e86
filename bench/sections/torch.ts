// PyTorch eager (Debian's python3-torch) on the same shapes, run in this bench run (bench/torch/compare.py)
// and printed beside juice's figures from the earlier sections, with the ratios. Skipped, with the
// reason printed, where /usr/bin/python3 cannot import torch.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { table, type Section } from './types.js';

const SCRIPT = fileURLToPath(new URL('../torch/compare.py', import.meta.url));

/** The environment for /usr/bin/python3 with torch. */
export function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  // Debian's OpenBLAS misdetects this CPU when these are set by the environment.
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Whether /usr/bin/python3 imports torch; prints the reason when not. */
export function torchAvailable(): boolean {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { env: torchEnv(), encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    console.log(`  skipped: /usr/bin/python3 cannot import torch (${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)})`);
    return false;
  }
  return true;
}

/** Runs the comparison script; undefined (reason printed) when torch is unavailable. */
export function runTorch(args: string[] = []): Record<string, number> | undefined {
  if (!torchAvailable()) return undefined;
  const env = torchEnv();
  const r = spawnSync('/usr/bin/python3', [SCRIPT, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    console.log(`  skipped: ${SCRIPT} failed: ${r.stderr.trim().split('\n').at(-1)}`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
}

export const torchSection: Section = async (ctx) => {
  const t = runTorch();
  if (!t) return;
  const j = ctx.results;
  const rows: [string, string | number, string?][] = [[`PyTorch ${String(t.torch)} eager, ${t.threads} threads`, 'juice', 'PyTorch   juice/PyTorch (>1 = juice faster)']];
  const add = (label: string, key: string, juice: number | undefined, torch: number | undefined, higherIsBetter: boolean, unit: string) => {
    if (juice === undefined || torch === undefined || !Number.isFinite(juice) || !Number.isFinite(torch)) return;
    const ratio = higherIsBetter ? juice / torch : torch / juice;
    j[`torch.${key}`] = torch;
    j[`ratio.${key}`] = ratio;
    rows.push([`${label} (${unit})`, juice, `${torch.toFixed(1).padStart(8)}   ${ratio.toFixed(2)}x`]);
  };
  add('train step D512 L4 T128 B8, fwd+CE+bwd', 'train_step_ms', j['train-step.ms'], t.train_step_ms, false, 'ms');
  add(`AdamW over ${(t.params! / 1e6).toFixed(1)} M params`, 'adamw_ms', j['optimizer.adamw_ms'], t.adamw_ms, false, 'ms');
  add('clip_grad_norm_ (norm + scaling)', 'clip_ms', j['optimizer.clip_scale_ms'], t.clip_ms, false, 'ms');
  for (const b of [1, 16]) {
    add(`decode, 110 M Llama, batch ${b}`, `decode_b${b}_tps`, j[`generation.llama-110M.b${b}.decode_tps`], t[`decode_b${b}_tps`], true, 'tokens/s');
    add(`prefill, 110 M Llama, batch ${b}`, `prefill_b${b}_tps`, j[`generation.llama-110M.b${b}.prefill_tps`], t[`prefill_b${b}_tps`], true, 'tokens/s');
  }
  table(rows);
};
