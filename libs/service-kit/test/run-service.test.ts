import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '../src/index.js';
import { Echo } from './fixtures/echo-proto.js';

const fixture = fileURLToPath(new URL('./fixtures/echo-server.ts', import.meta.url));
const pkgDir = fileURLToPath(new URL('..', import.meta.url));

// No OTEL_* from the developer's shell: the process must start with exporters off.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('JUICE_')));

interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  firstLine: Promise<string>;
}

function launch(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    cwd: pkgDir,
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let outBuf = '';
  let errBuf = '';
  let resolveFirst!: (l: string) => void;
  const firstLine = new Promise<string>((r) => (resolveFirst = r));
  child.stdout!.on('data', (d: Buffer) => {
    outBuf += d.toString();
    const lines = outBuf.split('\n');
    outBuf = lines.pop()!;
    for (const l of lines) {
      stdout.push(l);
      if (stdout.length === 1) resolveFirst(l);
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    errBuf += d.toString();
    const lines = errBuf.split('\n');
    errBuf = lines.pop()!;
    stderr.push(...lines);
  });
  const exit = once(child, 'exit').then(([code, signal]) => {
    if (outBuf) stdout.push(outBuf);
    if (errBuf) stderr.push(errBuf);
    if (stdout.length === 0) resolveFirst('');
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return { child, stdout, stderr, exit, firstLine };
}

test('runService: one JSON line on stdout, JSON logs, graceful SIGTERM with a call in flight', { timeout: 25_000 }, async () => {
  const p = launch(['--port', '0', '--shutdown-grace-ms=5000'], { ECHO_GREETING: 'hey' });
  try {
    const first = await Promise.race([p.firstLine, sleep(15_000, 'timeout', { ref: false })]);
    assert.notEqual(first, 'timeout', `no listening line; stderr:\n${p.stderr.join('\n')}`);
    const info = JSON.parse(first) as { service: string; listening: string };
    assert.deepEqual(Object.keys(info), ['service', 'listening']);
    assert.equal(info.service, 'echo');
    assert.match(info.listening, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(info.listening, '127.0.0.1:0');

    const client = createClient(Echo, info.listening);
    try {
      assert.equal((await client.say({ text: 'up' })).text, 'echo: up');
      await assert.rejects(client.say({ text: 'bad' }), /invalid field/);
      const slow = client.slow({ ms: 1000, text: 'drained' });
      await sleep(200);
      const t0 = Date.now();
      p.child.kill('SIGTERM');
      assert.equal((await slow).text, 'drained', 'the in-flight call completes after SIGTERM');
      const { code, signal } = await p.exit;
      assert.equal(signal, null);
      assert.equal(code, 0);
      assert.ok(Date.now() - t0 < 5000, `exited ${Date.now() - t0} ms after SIGTERM`);
    } finally {
      client.close();
    }

    assert.equal(p.stdout.filter((l) => l.trim() !== '').length, 1, `stdout must be one line: ${JSON.stringify(p.stdout)}`);
    const logs = p.stderr.filter((l) => l.trim() !== '').map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        assert.fail(`stderr line is not JSON: ${l}`);
      }
    });
    for (const l of logs) {
      assert.equal(l.service, 'echo');
      assert.equal(typeof l.time, 'string');
      assert.equal(typeof l.level, 'string');
      assert.equal(typeof l.msg, 'string');
    }
    const msgs = logs.map((l) => l.msg);
    const failed = logs.find((l) => l.msg === 'rpc failed');
    assert.equal(failed?.method, 'kit.test.Echo/Say');
    assert.match(String(failed?.trace_id), /^[0-9a-f]{32}$/, 'calls get a trace id even with exporters off');
    assert.ok(logs.some((l) => l.msg === 'building' && l.greeting === 'hey'), 'config from env reaches build()');
    for (const m of ['server listening', 'signal received, draining', 'onShutdown ran', 'stopped']) assert.ok(msgs.includes(m), `log "${m}" in ${msgs.join(' | ')}`);
    assert.ok(msgs.indexOf('onShutdown ran') > msgs.indexOf('server stopped'), 'onShutdown runs after the server stopped');
  } finally {
    if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
});

test('runService: --help prints usage and exits 0; bad config exits 2 naming flag and env var', { timeout: 25_000 }, async () => {
  const help = launch(['--help']);
  const bad = launch([], { JUICE_PORT: 'eighty' });
  const [h, b] = await Promise.all([help.exit, bad.exit]);
  assert.equal(h.code, 0);
  const text = help.stdout.join('\n');
  for (const s of ['Usage: echo', '--port', 'JUICE_PORT', '--greeting', 'ECHO_GREETING', '--shutdown-grace-ms']) assert.ok(text.includes(s), `help lacks ${s}`);
  assert.equal(b.code, 2);
  assert.equal(bad.stdout.join(''), '');
  const err = JSON.parse(bad.stderr.find((l) => l.includes('eighty'))!) as { level: string; msg: string };
  assert.equal(err.level, 'error');
  assert.match(err.msg, /--port \/ JUICE_PORT/);
});
