// deploy/k8s renders (kubectl kustomize) and says what it must: every role has a Deployment and a Service,
// probes and resource requests; the generator and reward-model replicas load a model before they listen
// (so they are not Ready until they serve one); the trainer targets the pools by their headless Services;
// overlays set replica counts and add GPUs. Skipped, with the reason, where kubectl is not installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../deploy/k8s', import.meta.url));

function kubectl(): string | undefined {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'kubectl is not installed (apt-get install -y kubectl); the manifests are not rendered';
  }
}

// The yaml parser is not a dependency of juice itself (it comes with the workspace tooling).
const yaml = await import('yaml').catch(() => undefined);
const skip = kubectl() ?? (yaml ? undefined : 'the yaml package is not installed');

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function render(dir: string): Obj[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return yaml!.parseAllDocuments(text).map((d) => d.toJS() as Obj);
}

const find = (objs: Obj[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const ROLES = ['juice-generator', 'juice-reward-model', 'juice-trainer', 'juice-evaluator'];

describe('deploy/k8s', { skip }, () => {
  it('every role has a Deployment with probes and requests, and a Service', () => {
    const objs = render(root);
    for (const name of ROLES) {
      const d = find(objs, 'Deployment', name);
      assert.ok(d, `${name}: no Deployment`);
      assert.ok(find(objs, 'Service', name), `${name}: no Service`);
      const c = d.spec.template.spec.containers[0];
      assert.ok(c.readinessProbe?.grpc, `${name}: no gRPC readiness probe`);
      assert.ok(c.livenessProbe, `${name}: no liveness probe`);
      assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${name}: no cpu/memory requests`);
    }
    const pvc = find(objs, 'PersistentVolumeClaim', 'juice-store');
    assert.deepEqual(pvc?.spec.accessModes, ['ReadWriteMany']);
  });

  it('pool replicas load a model before listening (not Ready until they serve one) and sit behind headless Services', () => {
    const objs = render(root);
    for (const name of ['juice-generator', 'juice-reward-model']) {
      const c = find(objs, 'Deployment', name)!.spec.template.spec.containers[0];
      const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
      assert.ok(env.JUICE_MODEL, `${name}: JUICE_MODEL unset: the replica would serve no model yet report SERVING`);
      assert.ok(c.startupProbe, `${name}: no startup probe (a long model load would trip liveness)`);
      assert.equal(find(objs, 'Service', name)!.spec.clusterIP, 'None', `${name}: the Service must be headless so every replica resolves`);
    }
  });

  it('the trainer targets the pools by dns:/// names of the headless Services', () => {
    const args: string[] = find(render(root), 'Deployment', 'juice-trainer')!.spec.template.spec.containers[0].args;
    const flag = (f: string) => args.filter((_, i) => args[i - 1] === f);
    assert.deepEqual(flag('--generator'), ['dns:///juice-generator.juice:50051']);
    assert.deepEqual(flag('--reward-model'), ['dns:///juice-reward-model.juice:50052']);
  });

  it('overlays: replicas sets the pool sizes, gpu adds nvidia.com/gpu and CUDA images', () => {
    const r = render(`${root}/overlays/replicas`);
    assert.equal(find(r, 'Deployment', 'juice-generator')!.spec.replicas, 3);
    assert.equal(find(r, 'Deployment', 'juice-reward-model')!.spec.replicas, 2);
    assert.equal(find(r, 'Deployment', 'juice-trainer')!.spec.replicas, 1);
    const g = render(`${root}/overlays/gpu`);
    for (const name of ['juice-generator', 'juice-reward-model', 'juice-trainer']) {
      const c = find(g, 'Deployment', name)!.spec.template.spec.containers[0];
      assert.equal(c.resources.limits['nvidia.com/gpu'], 1, `${name}: no GPU limit`);
      assert.match(c.image, /:cuda$/, `${name}: not the CUDA image`);
    }
    assert.equal(find(g, 'Deployment', 'juice-evaluator')!.spec.template.spec.containers[0].resources.limits?.['nvidia.com/gpu'], undefined);
  });
});
