/**
 * What the admin API started or stopped, persisted in the data dir so that a restart (or a crash) resumes
 * exactly that: `<dataDir>/state/<name>.json`, mode 0600 (it holds the upstream and replica passwords), written
 * atomically (temp file, fsync, rename, fsync of the directory).
 *
 * The persisted intent wins over the config file: a syncer stopped through the API stays stopped after a
 * restart even when the config file has a `syncer` section.
 */
import { mkdir, open, readFile, rename, chmod, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BinlogProxyError } from '../protocol/errors.js';
import type { ServerArgs, SyncerArgs } from './config/config.js';

export interface Intent<T> {
  running: boolean;
  args: T | null;
  updated_at: string;
}

export type SyncerIntent = Intent<SyncerArgs>;
export type ServerIntent = Intent<ServerArgs>;

export class StateError extends BinlogProxyError {}

export class StateFiles {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'state');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
  }

  async read<T>(name: 'syncer' | 'server'): Promise<Intent<T> | null> {
    const path = join(this.dir, `${name}.json`);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new StateError('ERR_STATE_READ', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const v = JSON.parse(text) as Intent<T>;
      if (typeof v !== 'object' || v === null || typeof v.running !== 'boolean') throw new Error('missing "running"');
      return v;
    } catch (err) {
      throw new StateError('ERR_STATE_CORRUPT', `${path} is not a valid state file (${(err as Error).message}); fix or delete it`, { cause: err });
    }
  }

  async write<T>(name: 'syncer' | 'server', intent: Omit<Intent<T>, 'updated_at'>): Promise<void> {
    const path = join(this.dir, `${name}.json`);
    const tmp = `${path}.tmp`;
    const body = JSON.stringify({ ...intent, updated_at: new Date().toISOString() }, null, 2);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await chmod(tmp, 0o600);
    await rename(tmp, path);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** For tests and `--help`: the permission bits of a state file. */
  async mode(name: 'syncer' | 'server'): Promise<number | null> {
    try {
      return (await stat(join(this.dir, `${name}.json`))).mode & 0o777;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }
}
