import { describe, expect, it } from 'vitest';
import { parseDuration, parseHostPort, parseSize, resolveConfig } from '../../../src/config/config.js';
import { ValidationError } from '../../../src/config/validate.js';

function resolve(argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) {
  return resolveConfig({
    argv,
    env,
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw new Error(`ENOENT: no such file '${p}'`);
      return text;
    },
  });
}

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).field;
  }
  throw new Error('expected a ValidationError');
}

describe('resolveConfig', () => {
  it('embedded defaults: ./data and 127.0.0.1:9595, nothing started', () => {
    const { command, config } = resolve([]);
    expect(command).toBe('run');
    expect(config.dataDir).toBe('./data');
    expect(config.admin.listen).toBe('127.0.0.1:9595');
    expect(config.admin.token).toBeNull();
    expect(config.logLevel).toBe('info');
    expect(config.syncer).toBeNull();
    expect(config.server).toBeNull();
    expect(config.storage.durability).toBe('group');
    expect(config.storage.compression).toBe(false);
    expect(config.storage.readCacheBytes).toBe(16 << 20);
  });

  it('storage.readCache sizes the shared read cache; 0 turns it off; a bad size names the key', () => {
    const at = (text: string): number => resolve([], { BINLOG_PROXY_CONFIG: '/c.yaml' }, { '/c.yaml': `storage: { readCache: ${text} }\n` }).config.storage.readCacheBytes;
    expect(at('64MiB')).toBe(64 << 20);
    expect(at('0')).toBe(0);
    expect(() => at('lots')).toThrow(/storage\.readCache/);
  });

  it('storage.compression turns LevelDB snappy compression on; a wrong type names the key', () => {
    const files = { '/c.yaml': 'storage: { compression: true }\n' };
    expect(resolve([], { BINLOG_PROXY_CONFIG: '/c.yaml' }, files).config.storage.compression).toBe(true);
    const bad = { '/c.yaml': 'storage: { compression: "yes" }\n' };
    expect(() => resolve([], { BINLOG_PROXY_CONFIG: '/c.yaml' }, bad)).toThrow(/storage\.compression/);
  });

  it('flags override env which overrides the file', () => {
    const files = { '/c.yaml': 'dataDir: /from-file\nadmin: { listen: "127.0.0.1:1000" }\nlogLevel: warn\n' };
    const env = { BINLOG_PROXY_CONFIG: '/c.yaml', BINLOG_PROXY_DATA_DIR: '/from-env' };
    const a = resolve([], env, files).config;
    expect(a.dataDir).toBe('/from-env');
    expect(a.admin.listen).toBe('127.0.0.1:1000');
    expect(a.logLevel).toBe('warn');
    const b = resolve(['--data-dir', '/from-flag', '--admin-listen', '[::1]:9000'], env, files).config;
    expect(b.dataDir).toBe('/from-flag');
    expect(b.admin.listen).toBe('[::1]:9000');
  });

  it('reads the full YAML example of the interface document', () => {
    const yaml = `
dataDir: ./data
admin: { listen: 127.0.0.1:9595, token: null }
server:
  listen: 127.0.0.1:3307
  users: [ { user: repl, password: secret } ]
syncer:
  mysql_addr: 127.0.0.1:3306
  mysql_user: repl
  mysql_password: secret
  syncer_id: 1001
discovery: { user: orchestrator, password: secret }
retention: { maxAge: 7d, maxSize: 50GiB }
cluster:
  name: node-a
  etcd: [ "http://127.0.0.1:2379" ]
  advertise_admin: http://127.0.0.1:9595
  advertise_server: 127.0.0.1:3307
`;
    const { config } = resolve(['--config', '/x.yaml'], {}, { '/x.yaml': yaml });
    expect(config.server).toEqual({ addr: '127.0.0.1:3307', users: [{ user: 'repl', password: 'secret' }], allow_empty_password: false });
    expect(config.syncer?.syncer_id).toBe(1001);
    expect(config.retention.maxAgeMs).toBe(7 * 86_400_000);
    expect(config.retention.maxSizeBytes).toBe(50 * 1024 ** 3);
    expect(config.cluster?.name).toBe('node-a');
    expect(config.discovery.user).toBe('orchestrator');
  });

  it('rejects bad values naming the key', () => {
    expect(fieldOf(() => resolve(['--admin-listen', 'nope']))).toBe('admin.listen');
    expect(fieldOf(() => resolve(['--log-level', 'loud']))).toBe('logLevel');
    expect(fieldOf(() => resolve(['--config', '/c'], {}, { '/c': 'syncer: { mysql_addr: "h:1", mysql_user: u, mysql_password: p, syncer_id: "7" }' }))).toBe('syncer.syncer_id');
    expect(fieldOf(() => resolve(['--config', '/c'], {}, { '/c': 'server: { listen: "h:1", bogus: 1 }' }))).toBe('server.bogus');
    expect(fieldOf(() => resolve(['--config', '/c'], {}, { '/c': 'retention: { maxAge: "seven days" }' }))).toBe('retention.maxAge');
    expect(fieldOf(() => resolve(['--config', '/missing']))).toBe('config');
    expect(fieldOf(() => resolve(['--config', '/c'], {}, { '/c': 'a: [' }))).toBe('config');
    expect(fieldOf(() => resolve(['--nope']))).toBe('argv');
    expect(fieldOf(() => resolve(['frobnicate']))).toBe('argv');
  });

  it('parses --help, --version and import', () => {
    expect(resolve(['--help']).command).toBe('help');
    expect(resolve(['--version']).command).toBe('version');
    const r = resolve(['import', '--data-dir', '/d', 'a.000001', 'a.000002']);
    expect(r.command).toBe('import');
    expect(r.files).toEqual(['a.000001', 'a.000002']);
    expect(r.config.dataDir).toBe('/d');
    expect(fieldOf(() => resolve(['import']))).toBe('argv');
  });
});

describe('value parsers', () => {
  it('durations, sizes and host:port', () => {
    expect(parseDuration('500ms', 'x')).toBe(500);
    expect(parseDuration('1.5s', 'x')).toBe(1500);
    expect(parseDuration('2w', 'x')).toBe(14 * 86_400_000);
    expect(parseSize('512MiB', 'x')).toBe(512 * 1024 * 1024);
    expect(parseSize('1G', 'x')).toBe(1024 ** 3);
    expect(parseSize('10', 'x')).toBe(10);
    expect(parseHostPort('[::1]:3306', 'x')).toEqual({ host: '::1', port: 3306 });
    expect(parseHostPort('db-1.example:3307', 'x')).toEqual({ host: 'db-1.example', port: 3307 });
    expect(() => parseHostPort('db:99999', 'x')).toThrow(ValidationError);
    expect(() => parseDuration('7 days', 'x')).toThrow(/duration/);
  });
});
