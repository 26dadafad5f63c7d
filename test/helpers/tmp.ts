// Temporary directories for tests that are always removed: by `removeTempDir` when the test is done,
// and otherwise when the test process exits.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const liveDirs = new Set<string>();
let exitHookInstalled = false;

function removeAllSync(): void {
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  liveDirs.clear();
}

/**
 * A new empty directory under the OS temp dir, named `<prefix>XXXXXX`. Removed at process exit if the
 * test did not remove it itself. Keep the prefix short: unix socket paths inside it are limited to 107 bytes.
 */
export async function makeTempDir(prefix = 'binlog-proxy-'): Promise<string> {
  if (!exitHookInstalled) {
    process.on('exit', removeAllSync);
    exitHookInstalled = true;
  }
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  liveDirs.add(dir);
  return dir;
}

/** Remove a directory made by `makeTempDir` (idempotent). */
export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  liveDirs.delete(dir);
}
