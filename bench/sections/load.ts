// Load on one generator process over gRPC: 100 concurrent callers, each sending Generate again as soon
// as its last call answered, for 30 s (JUICE_BENCH_LOAD_SECONDS). Reports errors, p50/p99 latency,
// the process's RSS growth, and the standard health check's worst latency, polled throughout: a
// loaded service must still answer its probes within 1 s or an orchestrator would restart it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startRoleProcess } from '@juice/cli';
import { createDefaultModel } from '@juice/models';
import { GeneratorService } from '@juice/proto';
import { createClient } from '@juice/service-kit';
import { table, type Section } from './types.js';

const CALLERS = 100;
const HEALTH_LIMIT_MS = 1000;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

export const loadSection: Section = async (ctx) => {
  const seconds = Number(process.env.JUICE_BENCH_LOAD_SECONDS ?? 30);
  const base = mkdtempSync(join(tmpdir(), 'juice-bench-load-'));
  const corpus = Array.from({ length: 300 }, (_, i) => `What is ${i}+${i % 7}? ${i}+${i % 7}=${i + (i % 7)}`);
  createDefaultModel(join(base, 'model'), { corpus, seed: 1 });
  const gen = await startRoleProcess('generator', ['--model', join(base, 'model'), '--max-batch', '32']);
  const g = createClient(GeneratorService, gen.address);
  // The probe is what kubelet or grpc_health_probe would send: grpc.health.v1.Health/Check on its own channel.
  const health = new grpc.Client(gen.address, grpc.credentials.createInsecure());
  const check = () =>
    new Promise<void>((resolve, reject) =>
      health.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (err) => (err ? reject(err) : resolve())),
    );
  try {
    const ask = (i: number) => g.generate({ prompts: [{ kind: { case: 'text', value: `What is ${i % 300}+${i % 7}?` } }], sampling: { temperature: 1, seed: BigInt(i), maxNewTokens: 16 } }, { deadlineMs: 30_000 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => ask(i))); // warm the sessions before measuring RSS
    const pid = gen.proc.pid!;
    const rss0 = rssMiB(pid);
    let rssMax = rss0;
    const latencies: number[] = [];
    const errors = new Map<string, number>();
    let healthMax = 0;
    let healthFailures = 0;
    let healthChecks = 0;
    const stopAt = performance.now() + seconds * 1000;
    const caller = async (c: number) => {
      for (let i = c; performance.now() < stopAt; i += CALLERS) {
        const t = performance.now();
        try {
          await ask(i);
          latencies.push(performance.now() - t);
        } catch (e) {
          const code = (e as { codeName?: string }).codeName ?? String(e);
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
      }
    };
    const prober = async () => {
      while (performance.now() < stopAt) {
        const t = performance.now();
        try {
          await check();
        } catch {
          healthFailures++;
        }
        healthChecks++;
        healthMax = Math.max(healthMax, performance.now() - t);
        rssMax = Math.max(rssMax, rssMiB(pid));
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const started = performance.now();
    await Promise.all([...Array.from({ length: CALLERS }, (_, c) => caller(c)), prober()]);
    const elapsed = (performance.now() - started) / 1000;
    const rss1 = rssMiB(pid);
    latencies.sort((a, b) => a - b);
    const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
    table([
      ['callers', CALLERS, 'concurrent Generate loops (16 new tokens each)'],
      ['duration', elapsed, 's'],
      ['calls answered', latencies.length, ''],
      ['throughput', latencies.length / elapsed, 'calls/s'],
      ['errors', errorCount, errors.size ? JSON.stringify(Object.fromEntries(errors)) : ''],
      ['latency p50', quantile(latencies, 0.5), 'ms'],
      ['latency p99', quantile(latencies, 0.99), 'ms'],
      ['RSS at start', rss0, 'MiB'],
      ['RSS at end', rss1, `MiB (growth ${(rss1 - rss0).toFixed(1)} MiB, max ${rssMax.toFixed(1)} MiB)`],
      ['health checks', healthChecks, `(${healthFailures} failed)`],
      ['health max latency', healthMax, `ms (limit ${HEALTH_LIMIT_MS} ms)`],
    ]);
    ctx.results['load.p50_ms'] = quantile(latencies, 0.5);
    ctx.results['load.p99_ms'] = quantile(latencies, 0.99);
    ctx.results['load.errors'] = errorCount;
    ctx.results['load.health_max_ms'] = healthMax;
    ctx.results['load.rss_growth_mib'] = rss1 - rss0;
    if (healthMax > HEALTH_LIMIT_MS || healthFailures > 0) throw new Error(`health check took up to ${healthMax.toFixed(0)} ms (${healthFailures} failed) under load; the limit is ${HEALTH_LIMIT_MS} ms`);
  } finally {
    g.close();
    health.close();
    await gen.stop();
    rmSync(base, { recursive: true, force: true });
  }
};
