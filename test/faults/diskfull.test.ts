// Disk full: the data dir is a small tmpfs. When it fills up the syncer must stop with a clear error and
// status, nothing stored may be corrupted, and once space returns it must resume by itself: the replica
// behind the proxy ends equal to the primary, and a restart opens the store cleanly.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReplica, type MariaDBInstance } from '../helpers/mariadb.js';
import { getFreePort } from '../helpers/ports.js';
import { makeTempDir, removeTempDir } from '../helpers/tmp.js';
import { expectReplicaEqualsPrimary, readLog, startPrimary, startProxy, waitFor, waitForProxy, WriteLoad, type Proxy } from './helpers.js';
import { SECRETS } from './secrets.js';
import './setup-file.js';

interface SyncerStatusBody {
  data: { status: string; executed_gtid_set: string; last_error: { code: string; message: string; fatal: boolean } | null };
}

/** Fills the file system holding `path` until ENOSPC. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024, 7);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

describe('fault: disk full (tmpfs data dir)', () => {
  let mountDir = '';
  let mounted = false;
  let primary: MariaDBInstance;
  let replica: MariaDBInstance | null = null;
  let proxy: Proxy | null = null;
  let load: WriteLoad | null = null;

  beforeAll(async () => {
    mountDir = await makeTempDir('bp-tmpfs-');
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', mountDir], { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new Error(
        `the disk-full scenario needs to mount a tmpfs (run as root, or with CAP_SYS_ADMIN): mount exited ${r.status}: ${r.stderr || r.error?.message}`,
      );
    }
    mounted = true;
    primary = await startPrimary(51);
  });

  afterAll(async () => {
    await load?.stop();
    await proxy?.daemon.kill();
    await replica?.destroy();
    await primary?.destroy();
    if (mounted) {
      const r = spawnSync('umount', [mountDir], { encoding: 'utf8' });
      if (r.status !== 0) spawnSync('umount', ['-l', mountDir]);
    }
    if (mountDir) await removeTempDir(mountDir);
  });

  it('stops with ERR_STORAGE_FULL, corrupts nothing and resumes by itself when space returns', async () => {
    const dataDir = join(mountDir, 'data');
    const adminPort = await getFreePort();
    const serverPort = await getFreePort();
    proxy = await startProxy('diskfull', `127.0.0.1:${primary.port}`, { dataDir, adminPort, serverPort });
    replica = await startReplica({
      serverId: 52,
      primary: { host: '127.0.0.1', port: serverPort },
      user: 'repl',
      password: SECRETS.serverPassword,
      useGtid: 'slave_pos',
    });
    load = new WriteLoad(primary, 'd', 2000);
    load.start();
    await waitFor(async () => load!.committed > 200, 30_000, 'some load');
    await waitForProxy(proxy.daemon, primary, 30_000).catch(() => undefined);

    // No space left.
    const filler = join(mountDir, 'filler');
    fill(filler);
    const p = proxy;
    await waitFor(
      async () => {
        const s = await p.daemon.api<SyncerStatusBody>('GET', '/binlog/syncer/status');
        return s.body.data.status === 'error' && s.body.data.last_error?.code === 'ERR_STORAGE_FULL';
      },
      60_000,
      'the syncer to report a full disk',
    );
    const stopped = await proxy.daemon.api<SyncerStatusBody>('GET', '/binlog/syncer/status');
    expect(stopped.body.data.last_error?.message).toMatch(/disk .*full/i);
    expect(stopped.body.data.last_error?.fatal).toBe(true);
    // The daemon itself stays up and answers.
    expect((await proxy.daemon.api('GET', '/health')).status).toBe(200);
    expect(readLog(proxy.logFile)).toContain('ERR_STORAGE_FULL');
    const committedWhileFull = load.committed;
    await waitFor(async () => load!.committed > committedWhileFull + 200, 30_000, 'the primary to move on while the proxy disk is full');

    // Space returns: the syncer resumes by itself.
    rmSync(filler);
    await load.stop();
    await waitForProxy(proxy.daemon, primary, 60_000);
    const resumed = await proxy.daemon.api<SyncerStatusBody>('GET', '/binlog/syncer/status');
    expect(resumed.body.data.status).toBe('running');
    await expectReplicaEqualsPrimary(primary, replica, 60_000);

    // Nothing corrupted: a crash and a restart open the store and it still holds the same GTIDs.
    await proxy.daemon.kill();
    proxy = await startProxy('diskfull', `127.0.0.1:${primary.port}`, { dataDir, adminPort, serverPort, restart: true });
    await waitForProxy(proxy.daemon, primary, 30_000);
    expect(readLog(proxy.logFile)).not.toMatch(/ERR_STORAGE_CORRUPT/);
  });
});
