#!/usr/bin/env node
// `npx juice-evaluator`: starts the evaluator role alone. The service is TypeScript run through tsx's loader, so the
// same sources serve development, tests and the container image without a separate build output.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
