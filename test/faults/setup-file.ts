// Imported by every fault-suite test file (so it also works under the main vitest config): after its tests, the daemon logs the file captured must not contain
// any secret the suite used (the global teardown checks all logs again across files).
import { readFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { capturedLogFiles } from './helpers.js';
import { ALL_SECRETS } from './secrets.js';

afterAll(() => {
  for (const file of capturedLogFiles) {
    const text = readFileSync(file, 'utf8');
    for (const s of ALL_SECRETS) expect(text.includes(s), `${file} contains the secret ${s.slice(0, 8)}...`).toBe(false);
  }
});
