import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { DiscoveryService, type DiscoverySettings } from '../../../src/discovery/service.js';
import { KvInstanceStore, MemoryKvRange, type InstanceStore } from '../../../src/discovery/store.js';
import type { HostResolver } from '../../../src/discovery/key.js';
import { fakeNetwork, mariadbAnswer, type Answer, type FakeMariaDB } from './fixtures.js';

const H = '127.0.0.1';
const PASSWORD = 'p4ss-w0rd-never-shown';

const SETTINGS: DiscoverySettings = {
  user: 'orchestrator',
  password: PASSWORD,
  connectTimeoutMs: 1000,
  queryTimeoutMs: 1000,
  maxDepth: 10,
  maxInstances: 100,
};

/** P(1001) -> A(1002) -> B(1003), all on 127.0.0.1. */
function chainServers(overrides: Partial<Record<'p' | 'a' | 'b', Partial<FakeMariaDB>>> = {}): Map<string, Answer> {
  const p: FakeMariaDB = { serverId: 1, port: 1001, replicas: [{ host: H, port: 1002, serverId: 2 }], ...overrides.p };
  const a: FakeMariaDB = {
    serverId: 2,
    port: 1002,
    source: { host: H, port: 1001, serverId: 1 },
    replicas: [{ host: H, port: 1003, serverId: 3 }],
    ...overrides.a,
  };
  const b: FakeMariaDB = { serverId: 3, port: 1003, source: { host: H, port: 1002, serverId: 2 }, readOnly: true, ...overrides.b };
  return new Map([
    [`${H}:1001`, mariadbAnswer(p)],
    [`${H}:1002`, mariadbAnswer(a)],
    [`${H}:1003`, mariadbAnswer(b)],
  ]);
}

interface Setup {
  service: DiscoveryService;
  store: InstanceStore;
  logs: string[];
  net: ReturnType<typeof fakeNetwork>;
  setTime(iso: string): void;
}

async function setup(
  answers: Map<string, Answer>,
  opts: { settings?: Partial<DiscoverySettings>; resolver?: HostResolver; fail?: Map<string, DiscoveryError> } = {},
): Promise<Setup> {
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const store = await KvInstanceStore.open(new MemoryKvRange());
  const net = fakeNetwork(answers, { fail: opts.fail });
  let now = new Date('2024-05-01T10:00:00.000Z');
  const service = new DiscoveryService({
    store,
    logger,
    settings: { ...SETTINGS, ...opts.settings },
    connector: net.connector,
    resolver: opts.resolver ?? (async (h) => h),
    now: () => now,
  });
  return { service, store, logs, net, setTime: (iso) => void (now = new Date(iso)) };
}

describe('DiscoveryService.discover', () => {
  it('reads the instance, records it, then follows its replicas and source breadth-first', async () => {
    const s = await setup(chainServers());
    const primary = await s.service.discover(H, '1001');
    expect(primary).toMatchObject({
      key: { host: H, port: 1001 },
      role: 'primary',
      master_key: null,
      replicas: [{ host: H, port: 1002, server_id: 2 }],
      first_seen_at: '2024-05-01T10:00:00.000Z',
      last_seen_at: '2024-05-01T10:00:00.000Z',
      last_checked_at: '2024-05-01T10:00:00.000Z',
      last_check_valid: true,
      last_error: null,
    });
    await s.service.idle();
    const stored = await s.store.list();
    expect(stored.map((i) => [i.key.port, i.role])).toEqual([
      [1001, 'primary'],
      [1002, 'intermediate'],
      [1003, 'replica'],
    ]);
    expect(s.net.open()).toBe(0);
    expect([...s.net.connects.values()]).toEqual([1, 1, 1]);

    const graph = await s.service.cluster(`${H}:1003`);
    expect(graph.cluster_name).toBe(`${H}:1001`);
    expect(graph.edges.map((e) => `${e.source.port}->${e.replica.port}`)).toEqual(['1001->1002', '1002->1003']);
  });

  it('keeps first_seen_at and moves last_seen_at on a later probe', async () => {
    const s = await setup(chainServers());
    await s.service.discover(H, 1003);
    await s.service.idle();
    s.setTime('2024-05-01T11:00:00.000Z');
    const again = await s.service.discover(H, 1003);
    expect(again.first_seen_at).toBe('2024-05-01T10:00:00.000Z');
    expect(again.last_seen_at).toBe('2024-05-01T11:00:00.000Z');
    await s.service.idle();
  });

  it('records a failed check on a known instance, and nothing for an unknown address', async () => {
    const answers = chainServers();
    const s = await setup(answers);
    await s.service.discover(H, 1003);
    await s.service.idle();
    answers.delete(`${H}:1003`);
    s.setTime('2024-05-01T12:00:00.000Z');
    await expect(s.service.discover(H, 1003)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_REFUSED', status: 502 });
    const stored = await s.service.getInstance(H, '1003');
    expect(stored).toMatchObject({
      last_check_valid: false,
      last_checked_at: '2024-05-01T12:00:00.000Z',
      last_seen_at: '2024-05-01T10:00:00.000Z',
    });
    expect(stored.last_error).toMatch(/refused/);
    expect(stored.problems).toContain('last_check_invalid');

    await expect(s.service.discover(H, 2999)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_REFUSED' });
    await expect(s.service.getInstance(H, 2999)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_NOT_FOUND', status: 404 });
  });

  it('stores one canonical key per instance whatever name it was reached by', async () => {
    const answers = new Map<string, Answer>([
      [`${H}:1001`, mariadbAnswer({ serverId: 1, port: 1001, replicas: [{ host: 'replica.local', port: 1002, serverId: 2 }] })],
      [`${H}:1002`, mariadbAnswer({ serverId: 2, port: 1002, source: { host: 'primary.local', port: 1001, serverId: 1 } })],
    ]);
    const names: Record<string, string> = { 'primary.local': H, 'replica.local': H, localhost: H };
    const s = await setup(answers, { resolver: async (h) => names[h] ?? h });
    const inst = await s.service.discover('LOCALHOST', 1002);
    expect(inst.key).toEqual({ host: H, port: 1002 });
    expect(inst.master_key).toEqual({ host: H, port: 1001 });
    await s.service.idle();
    expect((await s.store.list()).map((i) => i.key.port)).toEqual([1001, 1002]);
    expect((await s.service.getInstance('primary.local', 1001)).replicas).toEqual([{ host: H, port: 1002, server_id: 2 }]);
  });

  it('probes an instance once when asked several times at once', async () => {
    const s = await setup(chainServers());
    const results = await Promise.all([s.service.discover(H, 1003), s.service.discover(H, 1003), s.service.discover('127.0.0.1', '1003')]);
    expect(results.map((r) => r.server_id)).toEqual([3, 3, 3]);
    await s.service.idle();
    expect(s.net.connects.get(`${H}:1003`)).toBe(1);
  });

  it('bounds the walk by maxInstances and maxDepth', async () => {
    const byCount = await setup(chainServers(), { settings: { maxInstances: 2 } });
    await byCount.service.discover(H, 1001);
    await byCount.service.idle();
    expect((await byCount.store.list()).length).toBe(2);

    const byDepth = await setup(chainServers(), { settings: { maxDepth: 0 } });
    await byDepth.service.discover(H, 1002);
    await byDepth.service.idle();
    expect((await byDepth.store.list()).map((i) => i.key.port)).toEqual([1002]);
  });

  it('refuses to work without credentials, after close, and with a bad host or port', async () => {
    const unconfigured = await setup(chainServers(), { settings: { user: null } });
    await expect(unconfigured.service.discover(H, 1001)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_NOT_CONFIGURED', status: 503 });
    const s = await setup(chainServers());
    await expect(s.service.discover('bad host', 1001)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_BAD_REQUEST', status: 400 });
    await expect(s.service.discover(H, 'x')).rejects.toMatchObject({ status: 400 });
    expect(() => s.service.discoverAsync(H, '70000')).toThrow(DiscoveryError);
    await s.service.close();
    await expect(s.service.discover(H, 1001)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_CLOSED' });
  });

  it('discoverAsync returns at once and discovers the whole graph in the background', async () => {
    const s = await setup(chainServers());
    const key = s.service.discoverAsync(H, '1002');
    expect(key).toEqual({ host: H, port: 1002 });
    expect(await s.store.list()).toEqual([]);
    await s.service.idle();
    expect((await s.store.list()).length).toBe(3);
  });

  it('clears an errant-GTID verdict once the source turns out to have those transactions', async () => {
    // B's own server_id (3) is in its binlog state; the chain's source A has 0-3-4 as well (B was primary once).
    const s = await setup(
      chainServers({
        a: { binlogState: '0-1-5,0-3-4' },
        b: { binlogState: '0-1-5,0-3-4' },
      }),
    );
    const first = await s.service.discover(H, 1003);
    expect(first.problems).toContain('errant_gtid');
    expect(first.gtid_errant).toBe('0-3-4');
    await s.service.idle();
    const after = await s.service.getInstance(H, 1003);
    expect(after.problems).not.toContain('errant_gtid');
    expect(after.gtid_errant).toBeNull();
  });

  it('flags a real errant transaction even when the source is known', async () => {
    const s = await setup(chainServers({ b: { binlogState: '0-1-5,0-3-6' } }));
    await s.service.discover(H, 1002);
    await s.service.idle();
    const b = await s.service.getInstance(H, 1003);
    expect(b.problems).toContain('errant_gtid');
    expect(b.gtid_errant).toBe('0-3-6');
  });
});

describe('probe statements through the service', () => {
  it('falls back to older statements and notes optional ones that all fail', async () => {
    const answers = new Map<string, Answer>([
      [
        `${H}:1002`,
        mariadbAnswer({
          serverId: 2,
          port: 1002,
          source: { host: H, port: 1001, serverId: 1 },
          reject: { 'SHOW ALL SLAVES STATUS': 1064, 'SHOW BINLOG STATUS': 1064, 'SHOW SLAVE HOSTS': 1227 },
        }),
      ],
    ]);
    const s = await setup(answers, { settings: { maxDepth: 0 } });
    const inst = await s.service.discover(H, 1002);
    expect(inst.master_key).toEqual({ host: H, port: 1001 });
    expect(inst.binlog).toEqual({ file: 'bin.000001', position: 729 });
    expect(inst.notes).toEqual(['SHOW SLAVE HOSTS: You have an error in your SQL syntax (1227)']);
    expect(s.net.log.get(`${H}:1002`)).toEqual(
      expect.arrayContaining(['SHOW ALL SLAVES STATUS', 'SHOW SLAVE STATUS', 'SHOW BINLOG STATUS', 'SHOW MASTER STATUS']),
    );
    await s.service.idle();
  });

  it('reads server_id and version with SELECT when SHOW GLOBAL VARIABLES ... WHERE is not understood', async () => {
    const answer = mariadbAnswer({ serverId: 7, port: 1007 });
    const minimal: Answer = (sql) => {
      if (sql.startsWith('SHOW GLOBAL VARIABLES')) return answer('unknown');
      return answer(sql);
    };
    const s = await setup(new Map([[`${H}:1007`, minimal]]));
    const inst = await s.service.discover(H, 1007);
    expect(inst.server_id).toBe(7);
    expect(inst.flavor).toBe('mariadb');
    await s.service.idle();
  });

  it('fails with the server error when not even the basic variables are readable', async () => {
    const answers = new Map<string, Answer>([[`${H}:1001`, mariadbAnswer({ serverId: 1, port: 1001, reject: {} })]]);
    const denyAll: Answer = (sql) => answers.get(`${H}:1001`)!(`denied ${sql}`);
    const s = await setup(new Map([[`${H}:1001`, denyAll]]));
    await expect(s.service.discover(H, 1001)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_SERVER_ERROR', status: 502 });
  });

  it('never writes the password to logs or stored errors', async () => {
    const fail = new Map([
      [
        `${H}:1003`,
        new DiscoveryError('ERR_DISCOVERY_SERVER_ERROR', `weird server echoing ${PASSWORD} back`, { details: { errno: 1045 } }),
      ],
    ]);
    const s = await setup(chainServers(), { fail });
    await s.service.discover(H, 1001);
    await s.service.idle();
    const joined = s.logs.join('\n');
    expect(joined).toContain('instance probe failed');
    expect(joined).not.toContain(PASSWORD);
    expect(JSON.stringify(await s.store.list())).not.toContain(PASSWORD);
  });
});

describe('DiscoveryService.cluster', () => {
  it('accepts host:port, a bare host when unique, and says which hints are ambiguous or unknown', async () => {
    const answers = new Map<string, Answer>([[`10.9.9.9:3306`, mariadbAnswer({ serverId: 1, port: 3306, host: '10.9.9.9' })]]);
    const s = await setup(new Map([...chainServers(), ...answers]));
    await s.service.discover(H, 1001);
    await s.service.discover('10.9.9.9', 3306);
    await s.service.idle();
    expect((await s.service.cluster('10.9.9.9')).cluster_name).toBe('10.9.9.9:3306');
    expect((await s.service.cluster(`${H}:1002`)).nodes.length).toBe(3);
    await expect(s.service.cluster(H)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_BAD_REQUEST' });
    await expect(s.service.cluster(`${H}:4444`)).rejects.toMatchObject({ code: 'ERR_DISCOVERY_NOT_FOUND', status: 404 });
    await expect(s.service.cluster('no such host!')).rejects.toMatchObject({ status: 400 });
  });
});
