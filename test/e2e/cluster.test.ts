// Cluster mode end to end (issue 10): three built daemons as child processes on one private etcd, a real
// MariaDB primary, and a real MariaDB replica attached to a follower.
//   1. the syncer is started through a follower (forwarded; the leader's answer comes back as is);
//   2. under write load the leader is SIGKILLed: a new leader within a few seconds (the figure is printed),
//      the replica keeps replicating;
//   3. the new leader is SIGSTOPped past its lease and resumed: the third node takes over, the frozen one
//      steps down on waking without writing, and follows;
//   4. in the end every surviving node's log, downloaded with `mariadb-binlog --raw`, equals the primary's
//      binlog byte for byte, and the replica equals the primary (CHECKSUM TABLE, GTID).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { downloadRawBinlogs } from '../helpers/binlog-client.js';
import { startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { startEtcd, type EtcdInstance } from '../helpers/etcd.js';
import {
  checksumTables,
  replicaStatus,
  ROOT_PASSWORD,
  startMariaDB,
  startReplica,
  waitForReplicaCatchUp,
  type MariaDBInstance,
} from '../helpers/mariadb.js';
import { getFreePorts } from '../helpers/ports.js';
import { makeTempDir } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait.js';

const REPL_PASSWORD = 'repl-secret-cluster-4c1d';
const SERVER_PASSWORD = 'downstream-secret-cluster-08be';
const CLUSTER_SECRET = 'e2e cluster secret, 32 characters';
const LEASE_TTL = '2s';

interface Node {
  name: string;
  adminPort: number;
  serverPort: number;
  configPath: string;
  proc: DaemonProcess;
}

interface ClusterView {
  name: string;
  role: string;
  is_leader: boolean;
  leader: { name: string; epoch: string; server_addr: string } | null;
  members: Array<{ name: string; is_leader: boolean; position: { executed_gtid_set: string } | null }>;
}

interface LogFile {
  name: string;
  end_position: number;
  gtids: string;
  active: boolean;
}

describe('cluster end to end: 3 daemons + etcd + MariaDB primary + replica on a follower', () => {
  let etcd: EtcdInstance;
  let primary: MariaDBInstance;
  let replica: MariaDBInstance | null = null;
  const nodes: Node[] = [];
  let workDir: string;

  beforeAll(async () => {
    [etcd, primary] = await Promise.all([startEtcd(), startMariaDB({ serverId: 31 })]);
    await primary.createReplicationUser('repl', REPL_PASSWORD);
    await primary.query('CREATE DATABASE app');
    await primary.query('CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(200), b LONGBLOB) ENGINE=InnoDB');
    for (let i = 0; i < 20; i++) await primary.query('INSERT INTO app.t (v) VALUES (?)', [`seed ${i}`]);
    workDir = await makeTempDir('binlog-proxy-cluster-e2e-');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.proc.kill()));
    // CLUSTER_E2E_LOGS=<dir> keeps every node's log there (for diagnosing a failure).
    const keep = process.env.CLUSTER_E2E_LOGS;
    if (keep) {
      await mkdir(keep, { recursive: true });
      for (const n of nodes) await writeFile(join(keep, `${n.name}.log`), n.proc.logs.join(''));
    }
    await replica?.destroy();
    await primary?.destroy();
    await etcd?.destroy();
  });

  async function launch(name: string, ports?: { adminPort: number; serverPort: number }): Promise<Node> {
    const [adminPort, serverPort] = ports ? [ports.adminPort, ports.serverPort] : await getFreePorts(2);
    const configPath = join(workDir, `${name}.yaml`);
    await writeFile(
      configPath,
      [
        'server:',
        `  listen: "127.0.0.1:${serverPort}"`,
        `  users: [{ user: repl, password: "${SERVER_PASSWORD}" }]`,
        'cluster:',
        `  name: ${name}`,
        `  etcd: ["${etcd.endpoint}"]`,
        `  lease_ttl: ${LEASE_TTL}`,
        `  prefix: /bp-e2e-${process.pid}/`,
        '',
      ].join('\n'),
    );
    const proc = await startDaemon({
      adminPort: adminPort!,
      args: ['--config', configPath, '--log-level', 'info'],
      env: { BINLOG_PROXY_CLUSTER_SECRET: CLUSTER_SECRET, BINLOG_PROXY_DISCOVERY_USER: 'root', BINLOG_PROXY_DISCOVERY_PASSWORD: ROOT_PASSWORD },
    });
    return { name, adminPort: adminPort!, serverPort: serverPort!, configPath, proc };
  }

  const view = async (n: Node): Promise<ClusterView> => (await n.proc.api<{ data: ClusterView }>('GET', '/cluster')).body.data;
  const logsOf = async (n: Node): Promise<LogFile[]> => (await n.proc.api<{ data: LogFile[] }>('GET', '/binlog/logs')).body.data;
  const endOf = async (n: Node): Promise<string> => {
    const files = await logsOf(n);
    return files.length === 0 ? '' : files[files.length - 1]!.gtids;
  };

  async function leaderSeenBy(alive: Node[], exclude: string | null = null): Promise<string> {
    let leader = '';
    await waitFor50(async () => {
      const views = await Promise.all(alive.map(view));
      const names = new Set(views.map((v) => v.leader?.name ?? null));
      const only = [...names][0];
      if (names.size !== 1 || only === null || only === undefined || only === exclude) return false;
      leader = only;
      return true;
    }, 20_000, 'every live node to see the same leader');
    return leader;
  }

  const download = (port: number, user: string, password: string, dir: string, first: string): Promise<Map<string, Buffer>> =>
    downloadRawBinlogs({ port, user, password, dir, first });

  it('elects, forwards, fails over on SIGKILL and SIGSTOP, and every log equals the primary', async () => {
    for (const name of ['n1', 'n2', 'n3']) nodes.push(await launch(name));
    const byName = (name: string): Node => nodes.find((n) => n.name === name)!;

    const leader1 = await leaderSeenBy(nodes);
    const followers = nodes.filter((n) => n.name !== leader1);
    const members = (await view(followers[0]!)).members;
    expect(members.map((m) => m.name)).toEqual(['n1', 'n2', 'n3']);
    expect(members.filter((m) => m.is_leader).map((m) => m.name)).toEqual([leader1]);

    // Discovery is shared cluster-wide: an instance discovered through one node is known to the others.
    const discovered = await followers[0]!.proc.api<{ Code: string }>('GET', `/api/discover/127.0.0.1/${primary.port}`);
    expect(discovered.status).toBe(200);
    expect(discovered.body.Code).toBe('OK');
    for (const n of [byName(leader1), followers[1]!]) {
      const known = await n.proc.api<{ Code: string; Details: { key: { port: number } } }>('GET', `/api/instance/127.0.0.1/${primary.port}`);
      expect(known.status, n.name).toBe(200);
      expect(known.body.Details.key.port).toBe(primary.port);
    }

    // 1. Start the syncer through a follower: forwarded, and the leader's answer returned as it is.
    const startBody = { mysql_addr: `127.0.0.1:${primary.port}`, mysql_user: 'repl', mysql_password: REPL_PASSWORD, syncer_id: 9101, start: 'earliest' };
    const started = await followers[0]!.proc.api<{ message: string; data: { status: string } }>('PUT', '/binlog/syncer/start', startBody);
    expect(started.status).toBe(200);
    expect(started.body.message).toBe('success');
    expect(JSON.stringify(started.body)).not.toContain(REPL_PASSWORD);
    // An error answer comes back as is too (the leader's 409).
    const again = await followers[1]!.proc.api<{ code: string }>('PUT', '/binlog/syncer/start', startBody);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ERR_ALREADY_RUNNING');

    // Every node (the followers through the leader's replica port) gets the whole binlog.
    const target0 = await primary.gtidBinlogPos();
    await waitFor50(async () => (await Promise.all(nodes.map(endOf))).every((g) => g === target0), 30_000, 'every node to store the primary binlog');

    // A real replica attached to a follower.
    const replicaNode = followers[0]!;
    replica = await startReplica({
      serverId: 32,
      primary: { host: '127.0.0.1', port: replicaNode.serverPort },
      user: 'repl',
      password: SERVER_PASSWORD,
      useGtid: 'slave_pos',
      heartbeatPeriodSeconds: 1,
    });
    await waitForReplicaCatchUp(replica, target0, 30_000);

    // 2. Write load, then SIGKILL the leader.
    const load = startLoad(await primary.connect());
    await sleep(1500);
    const killedAt = performance.now();
    await byName(leader1).proc.kill();
    const survivors = nodes.filter((n) => n.name !== leader1);
    // While nobody leads, syncer requests get 503 ERR_NO_LEADER (recorded, not required: the window is short).
    const during: Array<{ status: number; code?: string }> = [];
    let electing = true;
    const poller = (async () => {
      while (electing) {
        const r = await survivors[0]!.proc.api<{ code?: string }>('GET', '/binlog/syncer/status');
        during.push({ status: r.status, code: r.body.code });
        await sleep(100);
      }
    })();
    const leader2 = await leaderSeenBy(survivors, leader1).finally(() => (electing = false));
    const failoverMs = Math.round(performance.now() - killedAt);
    await poller;
    await waitFor50(async () => {
      const r = await byName(leader2).proc.api<{ data: { status: string } }>('GET', '/binlog/syncer/status');
      return r.body.data.status === 'running';
    }, 15_000, 'the new leader\'s syncer to run');
    const runningMs = Math.round(performance.now() - killedAt);
    console.log(`[cluster e2e] SIGKILL ${leader1}: new leader ${leader2} after ${failoverMs} ms; its syncer running after ${runningMs} ms`);
    expect(failoverMs).toBeLessThan(6000);
    console.log(`[cluster e2e] syncer status answers during the election: ${JSON.stringify(during.map((d) => d.code ?? d.status))}`);
    for (const d of during) if (d.status !== 200) expect(d.code).toMatch(/^ERR_(NO_LEADER|NOT_LEADER|LEADER_UNREACHABLE)$/);

    await sleep(2000);
    // The replica keeps replicating (through its follower, which now follows the new leader).
    const mid = await primary.gtidBinlogPos();
    await waitForReplicaCatchUp(replica, mid, 30_000);

    // 3. SIGSTOP the new leader past its lease, then resume it.
    const frozen = byName(leader2);
    const others = survivors.filter((n) => n !== frozen);
    const frozenAt = performance.now();
    frozen.proc.child.kill('SIGSTOP');
    const leader3 = await leaderSeenBy(others, leader2);
    console.log(`[cluster e2e] SIGSTOP ${leader2}: new leader ${leader3} after ${Math.round(performance.now() - frozenAt)} ms`);
    expect(leader3).not.toBe(leader2);
    await sleep(3000); // well past the 2 s lease, with the new leader writing
    frozen.proc.child.kill('SIGCONT');
    await waitFor50(async () => (await view(frozen)).leader?.name === leader3, 15_000, 'the resumed node to see the new leader');
    expect((await view(frozen)).is_leader).toBe(false);
    await sleep(1500);
    const writtenRows = await load.stop();
    expect(writtenRows).toBeGreaterThan(20);

    // 4. Everything equals the primary.
    await primary.query('FLUSH BINARY LOGS');
    await primary.query("INSERT INTO app.t (v, b) VALUES ('last', REPEAT('z', 70000))");
    const target = await primary.gtidBinlogPos();
    await waitFor50(async () => (await Promise.all(survivors.map(endOf))).every((g) => g === target), 30_000, 'the surviving nodes to store everything');
    await waitForReplicaCatchUp(replica, target, 30_000);
    expect(await checksumTables(replica, ['app.t'])).toEqual(await checksumTables(primary, ['app.t']));
    expect((await replica.query<Array<{ p: string }>>('SELECT @@gtid_slave_pos AS p'))[0]!.p).toBe(target);
    const rs = await replicaStatus(replica);
    expect(rs?.Slave_IO_Running).toBe('Yes');
    expect(rs?.Slave_SQL_Running).toBe('Yes');

    const primaryFiles = (await primary.binlogFiles()).map((p) => p.split('/').pop()!);
    const fromPrimary = await download(primary.port, 'repl', REPL_PASSWORD, join(workDir, 'dl-primary'), primaryFiles[0]!);
    expect([...fromPrimary.keys()]).toEqual(primaryFiles);
    for (const n of survivors) {
      const files = await logsOf(n);
      expect(files.map((f) => f.name)).toEqual(primaryFiles);
      const got = await download(n.serverPort, 'repl', SERVER_PASSWORD, join(workDir, `dl-${n.name}`), primaryFiles[0]!);
      expect([...got.keys()]).toEqual(primaryFiles);
      for (const [file, bytes] of fromPrimary) expect(firstDifference(got.get(file)!, bytes), `${n.name} ${file}`).toBe('equal');
    }

    // No double writer: the frozen leader stepped down on waking; the cluster has one leader.
    const frozenLogs = frozen.proc.logs.join('');
    expect(frozenLogs).toContain('stepping down');
    const views = await Promise.all(survivors.map(view));
    expect(views.filter((v) => v.is_leader).map((v) => v.name)).toEqual([leader3]);

    // A stop through a follower is stored in etcd too: after a graceful hand-over the next leader stays stopped.
    const follower3 = survivors.find((n) => n.name !== leader3)!;
    const stopped = await follower3.proc.api<{ data: { status: string } }>('PUT', '/binlog/syncer/stop');
    expect(stopped.status).toBe(200);
    expect(stopped.body.data.status).toBe('stopped');
    expect(await byName(leader3).proc.stop()).toBe(0);
    expect(await leaderSeenBy([follower3], leader3)).toBe(follower3.name);
    await sleep(500);
    const after = await follower3.proc.api<{ data: { status: string } }>('GET', '/binlog/syncer/status');
    expect(after.body.data.status).toBe('stopped');
    for (const n of nodes) expect(n.proc.logs.join('')).not.toContain(REPL_PASSWORD);
  }, 170_000);
});

/** Inserts rows one transaction at a time (some with a 100 KB blob) until stop(); returns the count. */
function startLoad(conn: Connection): { stop(): Promise<number> } {
  let stopping = false;
  let rows = 0;
  const loop = (async () => {
    while (!stopping) {
      if (rows % 10 === 0) await conn.query("INSERT INTO app.t (v, b) VALUES ('load big', REPEAT('y', 100000))");
      else await conn.query('INSERT INTO app.t (v) VALUES (?)', [`load ${rows}`]);
      rows++;
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      stopping = true;
      await loop;
      await conn.end();
      return rows;
    },
  };
}



/** 'equal', or where two downloads part: their lengths and the first differing offset (for a failure's message). */
function firstDifference(got: Buffer, want: Buffer): string {
  if (got.equals(want)) return 'equal';
  const n = Math.min(got.length, want.length);
  let i = 0;
  while (i < n && got[i] === want[i]) i++;
  return `${got.length} bytes vs ${want.length} expected, first difference at offset ${i}`;
}

/** waitFor polling every 50 ms (elections are timed in this file). */
function waitFor50(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  return waitFor(check, timeoutMs, what, 50);
}
