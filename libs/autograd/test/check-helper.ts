// Shared assertion over checkGradients, printing the worst element on failure.
import assert from 'node:assert/strict';
import { checkGradients, type CheckSpec } from './fd-check.js';

export async function expectGradients(spec: CheckSpec): Promise<number> {
  const r = await checkGradients(spec);
  assert.ok(r.maxErr <= r.tol, `gradient error ${r.maxErr} > tol ${r.tol}: ${JSON.stringify(r.worst)}`);
  return r.maxErr;
}
