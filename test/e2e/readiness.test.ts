// "A generator or reward-model replica is not Ready until it serves a model" (issue #13): started without
// --model, gRPC health answers NOT_SERVING for the whole server ("", what kubelet's gRPC probe asks) and
// for the role's service, while the role still answers calls (FAILED_PRECONDITION naming the flag). With a
// model, both are SERVING (test/e2e/roles.test.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { GeneratorService, RewardModelService } from '@juice/proto';
import { createClient, ServiceError, status } from '@juice/service-kit';
import { healthStatus } from '../support/grpc-tools.js';
import { startRole, type RunningRole } from '../support/spawn-service.js';

const started: RunningRole[] = [];
after(() => Promise.all(started.map((r) => r.stop('SIGKILL'))));

for (const [role, desc] of [['generator', GeneratorService], ['reward-model', RewardModelService]] as const) {
  test(`${role} without --model is NOT_SERVING ("" and ${desc.typeName}) and says why on calls`, async () => {
    const r = await startRole(role, ['--health-port', '0']);
    started.push(r);
    assert.equal(await healthStatus(r.address), 'NOT_SERVING');
    assert.equal(await healthStatus(r.address, desc.typeName), 'NOT_SERVING');
    // The plaintext health-only port kubelet probes answers the same.
    const probePort = /"health_address":"([^"]+)"/.exec(r.stderr())?.[1];
    assert.ok(probePort, r.stderr());
    assert.equal(await healthStatus(probePort), 'NOT_SERVING');
    const c = createClient(desc, r.address);
    try {
      await assert.rejects(c.getModelInfo({}), (e: unknown) => e instanceof ServiceError && e.code === status.FAILED_PRECONDITION && /--model/.test(e.message));
    } finally {
      c.close();
    }
  });
}
