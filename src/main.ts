#!/usr/bin/env -S node --initial-old-space-size=64 --max-semi-space-size=8 --expose-gc
/**
 * The composition root and the only place that reads argv, the environment and the process: it resolves the
 * config, creates the root logger, and runs the daemon or the import command.
 *
 * V8 flags (in the line above, in package.json's `start` and in bench/daemon.ts; V8 reads them when the process
 * starts, NODE_OPTIONS may not carry them):
 * - --initial-old-space-size=64. A replica catching up makes LevelDB hand over ~1 GB of fresh value buffers per
 *   GB served; V8 counts their backing stores against the old generation's limit, which after a restart (or
 *   after an ingest, whose garbage is small now) sits just above a ~20 MB heap: a full collection every ~40 ms,
 *   ~25% of a serving pass. With a 32 MB starting limit the bench's raw-reader pass over 92 MB cost 160-170 ms
 *   of CPU instead of 280-350 ms, but only in some daemon lifetimes: after a full collection at a quiet moment
 *   (little external memory then) the ~16 MB left under 32 MB filled within each pass again, 4-5 collections
 *   per pass. With 64: one or two full collections in a whole ingest plus five passes (--trace-gc), ~260 ms of
 *   CPU per pass against ~370 with 32 in alternating runs on one machine, the ingest ~8% less CPU, the fan-out
 *   peak RSS unchanged within its spread (bench --node-flags, README).
 * - --max-semi-space-size=8. The young generation grew to 2 x 16 MB while serving, ~27 MB of RSS holding ~1 MB
 *   of live objects; with 8 MB semi-spaces fifty replicas catching up peak ~25 MB lower, at the same speed. Not
 *   smaller: the ingest allocates ~600 MB of short-lived objects per 92 MB of binlog, and with 4 MB semi-spaces
 *   it ran three times as many scavenges (GC ~120 ms -> ~240-290 ms of an ingest's ~1.4 s of CPU; 8 MB: ~140).
 * - --expose-gc: the daemon asks for a full collection after every 16 MiB of segments the shared read cache lets
 *   go (memory.ts); without the flag it does not, and V8 collects them later.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HELP, resolveConfig } from './config/config.js';
import { ValidationError } from './config/validate.js';
import { createLogger } from './logger.js';
import { startDaemon } from './daemon.js';
import type { CollectGarbage } from './memory.js';
import { runImport } from './import.js';

function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'binlog-proxy' && pkg.version) return pkg.version;
    }
  }
  return 'unknown';
}

async function main(): Promise<number> {
  let request;
  try {
    request = resolveConfig({ argv: process.argv.slice(2), env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
  } catch (err) {
    if (err instanceof ValidationError) {
      process.stderr.write(`binlog-proxy: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const version = packageVersion();
  if (request.command === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (request.command === 'version') {
    process.stdout.write(`binlog-proxy ${version}\n`);
    return 0;
  }
  // Everything the daemon creates in the data dir (LevelDB files, state files with secrets, the self-signed
  // TLS key) is for its owner only, whatever the umask of the shell that started it.
  process.umask(0o077);
  // The import command prints its report on stdout: its logs go to stderr.
  const log = createLogger(request.config.logLevel, request.command === 'import' ? process.stderr : undefined);
  if (request.command === 'import') {
    try {
      const report = await runImport({ dataDir: request.config.dataDir, files: request.files, log });
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`binlog-proxy import: ${(err as Error).message}\n`);
      return 1;
    }
  }

  let daemon;
  try {
    const gc = (globalThis as { gc?: CollectGarbage }).gc;
    daemon = await startDaemon(request.config, log, { version, ...(typeof gc === 'function' ? { gc } : {}) });
  } catch (err) {
    log.fatal({ err }, 'cannot start');
    process.stderr.write(`binlog-proxy: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  return await new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (signalled) {
        log.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      signalled = true;
      log.info({ signal }, 'shutting down');
      daemon.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Give pino a tick to flush, then leave even if a stray handle is open.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    process.stderr.write(`binlog-proxy: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
