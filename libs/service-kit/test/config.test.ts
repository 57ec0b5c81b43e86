import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, HelpRequested, commonConfigSpec, defineConfig, parseConfig } from '../src/index.js';

const spec = defineConfig({
  port: { flag: 'port', env: 'JUICE_PORT', type: 'int', default: 0, min: 0, max: 65535, help: 'port' },
  temperature: { flag: 'temperature', env: 'JUICE_TEMPERATURE', type: 'float', default: 1, help: 'sampling temperature' },
  verbose: { flag: 'verbose', env: 'JUICE_VERBOSE', type: 'bool', default: false, help: 'chatty' },
  peers: { flag: 'peers', env: 'JUICE_PEERS', type: 'list', default: [], help: 'peer addresses' },
  device: { flag: 'device', env: 'JUICE_DEVICE', type: 'string', default: 'cpu', choices: ['cpu', 'cuda'], help: 'execution provider' },
  modelDir: { env: 'JUICE_MODEL_DIR', type: 'string', help: 'model directory' },
});

test('defaults apply when neither flag nor env is set', () => {
  const c = parseConfig(spec, [], {});
  assert.deepEqual(c, { port: 0, temperature: 1, verbose: false, peers: [], device: 'cpu', modelDir: undefined });
  // Types follow the spec.
  const port: number = c.port;
  const device: 'cpu' | 'cuda' = c.device;
  const dir: string | undefined = c.modelDir;
  void port, device, dir;
});

test('flags beat env beat default; both flag syntaxes', () => {
  const env = { JUICE_PORT: '7000', JUICE_TEMPERATURE: '0.5', JUICE_PEERS: 'a:1, b:2', JUICE_VERBOSE: 'yes', JUICE_MODEL_DIR: '/m' };
  assert.deepEqual(parseConfig(spec, [], env), {
    port: 7000,
    temperature: 0.5,
    verbose: true,
    peers: ['a:1', 'b:2'],
    device: 'cpu',
    modelDir: '/m',
  });
  const c = parseConfig(spec, ['--port', '0', '--temperature=0.25', '--no-verbose', '--model-dir=/x', '--device', 'cuda'], env);
  assert.equal(c.port, 0);
  assert.equal(c.temperature, 0.25);
  assert.equal(c.verbose, false);
  assert.equal(c.modelDir, '/x', 'flag name defaults to the kebab-cased key');
  assert.equal(c.device, 'cuda');
  assert.equal(parseConfig(spec, ['--verbose'], {}).verbose, true);
  assert.equal(parseConfig(spec, ['--verbose=false'], {}).verbose, false);
  assert.equal(parseConfig(spec, ['--temperature', '-0.5'], {}).temperature, -0.5, 'negative numbers are values');
});

test('bad values name the flag, the env var and where the value came from', () => {
  assert.throws(() => parseConfig(spec, ['--port', 'abc'], {}), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /--port/);
    assert.match(e.message, /JUICE_PORT/);
    assert.match(e.message, /"abc"/);
    assert.match(e.message, /integer/);
    return true;
  });
  assert.throws(() => parseConfig(spec, [], { JUICE_PORT: '1.5' }), /--port \/ JUICE_PORT.*from JUICE_PORT.*integer/);
  assert.throws(() => parseConfig(spec, ['--port=70000'], {}), /<= 65535/);
  assert.throws(() => parseConfig(spec, [], { JUICE_TEMPERATURE: 'hot' }), /JUICE_TEMPERATURE.*number/);
  assert.throws(() => parseConfig(spec, [], { JUICE_VERBOSE: 'maybe' }), /true or false/);
  assert.throws(() => parseConfig(spec, ['--device', 'tpu'], {}), /one of cpu, cuda/);
  assert.throws(() => parseConfig(spec, ['--prot', '1'], {}), /unknown flag --prot/);
  assert.throws(() => parseConfig(spec, ['--port'], {}), /--port .* needs a value/);
  assert.throws(() => parseConfig(spec, ['stray'], {}), /unexpected argument "stray"/);
  const req = defineConfig({ dir: { type: 'string', env: 'JUICE_DIR', required: true, help: 'where checkpoints live' } });
  assert.throws(() => parseConfig(req, [], {}), /missing required --dir \/ JUICE_DIR/);
});

test('--help lists every flag with env var and default', () => {
  assert.throws(
    () => parseConfig({ ...commonConfigSpec, ...spec }, ['--port', '1', '--help'], {}, { name: 'generator' }),
    (e: Error) => {
      assert.ok(e instanceof HelpRequested);
      for (const s of ['Usage: generator', '--port <int>', 'env JUICE_PORT', 'default 0', '--verbose ', '--log-level', 'one of: cpu, cuda', '--help']) {
        assert.ok(e.text.includes(s), `help text lacks ${s}:\n${e.text}`);
      }
      return true;
    },
  );
});
