// The probe over the real mysql2 client against local protocol-level fakes: a minimal proxy-like server,
// a server that refuses the login, one that hangs after the handshake, a blackhole and a closed port.
import { afterEach, describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { probeInstance, type ProbeOptions } from '../../../src/discovery/probe.js';
import { mysql2Connector } from '../../../src/discovery/sql.js';
import { closedPort, startBlackhole, startFakeMysqlServer, type FakeReply } from './fake-mysql-server.js';

const H = '127.0.0.1';
const PASSWORD = 'wire-secret-pw';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function options(over: Partial<ProbeOptions> = {}): ProbeOptions {
  return {
    user: 'orchestrator',
    password: PASSWORD,
    connectTimeoutMs: 800,
    queryTimeoutMs: 800,
    probeTimeoutMs: 3000,
    lagThresholdSeconds: 10,
    connector: mysql2Connector,
    ...over,
  };
}

async function failure(p: Promise<unknown>): Promise<DiscoveryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DiscoveryError) return err;
    throw err;
  }
  throw new Error('expected the probe to fail');
}

/** What a binlog-proxy's replication port minimally has to answer for the probe (see probe.ts). */
function proxyLike(sql: string): FakeReply {
  if (sql.startsWith('SHOW GLOBAL VARIABLES WHERE')) {
    const vars: Record<string, string> = {
      server_id: '4242',
      version: '10.11.19-MariaDB-binlog-proxy',
      version_comment: 'binlog-proxy',
      log_bin: 'ON',
      binlog_format: 'ROW',
      read_only: 'ON',
      gtid_binlog_pos: '0-1-10',
    };
    return { rows: Object.entries(vars).map(([Variable_name, Value]) => ({ Variable_name, Value })), columns: ['Variable_name', 'Value'] };
  }
  if (sql === 'SHOW SLAVE STATUS') {
    return {
      rows: [
        {
          Slave_IO_State: 'Waiting for master to send event',
          Master_Host: '127.0.0.1',
          Master_Port: '3399',
          Master_Log_File: 'bin.000002',
          Read_Master_Log_Pos: '1234',
          Relay_Master_Log_File: 'bin.000002',
          Exec_Master_Log_Pos: '1234',
          Slave_IO_Running: 'Yes',
          Slave_SQL_Running: 'Yes',
          Seconds_Behind_Master: '0',
          Last_IO_Errno: '0',
          Last_IO_Error: '',
          Last_SQL_Errno: '0',
          Last_SQL_Error: '',
          Master_Server_Id: '1',
          Using_Gtid: 'Slave_Pos',
          Gtid_IO_Pos: '0-1-10',
        },
      ],
    };
  }
  if (sql === 'SHOW MASTER STATUS') return { rows: [{ File: 'bin.000002', Position: '1234', Binlog_Do_DB: '', Binlog_Ignore_DB: '' }] };
  if (sql === 'SHOW SLAVE HOSTS') return { rows: [{ Server_id: '77', Host: '127.0.0.1', Port: '3401', Master_id: '4242' }] };
  return { error: { code: 1064, message: `You have an error in your SQL syntax near '${sql.slice(0, 20)}'` } };
}

describe('probe over mysql2', () => {
  it('reads a server that answers only the core statements, noting the optional ones it rejects', async () => {
    const fake = await startFakeMysqlServer({ query: proxyLike });
    cleanups.push(fake.close);
    const inst = await probeInstance({ host: H, port: fake.port }, options());
    expect(inst).toMatchObject({
      key: { host: H, port: fake.port },
      flavor: 'mariadb',
      server_id: 4242,
      version_comment: 'binlog-proxy',
      read_only: true,
      log_bin: true,
      binlog: { file: 'bin.000002', position: 1234 },
      master_key: { host: H, port: 3399 },
      replicas: [{ host: H, port: 3401, server_id: 77 }],
      role: 'intermediate',
      uptime_seconds: null,
      problems: [],
    });
    expect(inst.replication).toMatchObject({ io_running: true, sql_running: true, seconds_behind_master: 0, using_gtid: true });
    expect(inst.notes.some((n) => n.startsWith('SHOW GLOBAL STATUS'))).toBe(true);
    expect(inst.notes.some((n) => n.includes('SHOW PROCESSLIST'))).toBe(true);
    expect(inst.notes.every((n) => n.includes('(1064)'))).toBe(true);
    // The fallbacks were tried in order.
    expect(fake.queries).toEqual([
      expect.stringMatching(/^SHOW GLOBAL VARIABLES WHERE/),
      expect.stringMatching(/^SHOW GLOBAL STATUS WHERE/),
      'SHOW ALL SLAVES STATUS',
      'SHOW SLAVE STATUS',
      'SHOW BINLOG STATUS',
      'SHOW MASTER STATUS',
      'SHOW SLAVE HOSTS',
      expect.stringMatching(/information_schema\.PROCESSLIST/),
      'SHOW PROCESSLIST',
    ]);
  });

  it('maps a refused login to ERR_DISCOVERY_SERVER_ERROR with the errno, without the password', async () => {
    const fake = await startFakeMysqlServer({
      login: (user) => ({ code: 1045, sqlState: '28000', message: `Access denied for user '${user}'@'127.0.0.1' (using password: YES)` }),
    });
    cleanups.push(fake.close);
    const err = await failure(probeInstance({ host: H, port: fake.port }, options()));
    expect(err.code).toBe('ERR_DISCOVERY_SERVER_ERROR');
    expect(err.status).toBe(502);
    expect(err.details).toMatchObject({ errno: 1045, sql_state: '28000' });
    expect(err.message).toMatch(/Access denied for user 'orchestrator'/);
    expect(err.message).not.toContain(PASSWORD);
  });

  it('maps a closed port to ERR_DISCOVERY_REFUSED at once', async () => {
    const port = await closedPort();
    const started = Date.now();
    const err = await failure(probeInstance({ host: H, port }, options()));
    expect(err.code).toBe('ERR_DISCOVERY_REFUSED');
    expect(err.status).toBe(502);
    expect(Date.now() - started).toBeLessThan(700);
  });

  it('gives ERR_DISCOVERY_TIMEOUT after the connect timeout for a host that never answers', async () => {
    const hole = await startBlackhole();
    cleanups.push(hole.close);
    const started = Date.now();
    const err = await failure(probeInstance({ host: H, port: hole.port }, options({ connectTimeoutMs: 600 })));
    const elapsed = Date.now() - started;
    expect(err.code).toBe('ERR_DISCOVERY_TIMEOUT');
    expect(err.status).toBe(504);
    expect(hole.accepted()).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(1500);
  });

  it('gives ERR_DISCOVERY_TIMEOUT after the query timeout for a server that hangs on a statement', async () => {
    const fake = await startFakeMysqlServer({ query: (sql) => (sql.startsWith('SHOW GLOBAL STATUS') ? { hang: true } : proxyLike(sql)) });
    cleanups.push(fake.close);
    const started = Date.now();
    const err = await failure(probeInstance({ host: H, port: fake.port }, options({ queryTimeoutMs: 500 })));
    expect(err.code).toBe('ERR_DISCOVERY_TIMEOUT');
    expect(err.message).toMatch(/SHOW GLOBAL STATUS/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('stops at the overall probe deadline even when each statement is within its own timeout', async () => {
    // Every statement takes ~300 ms (under the 1 s query timeout); the whole probe may take 700 ms.
    const fake = await startFakeMysqlServer({ query: proxyLike });
    cleanups.push(fake.close);
    const slowConnector: ProbeOptions['connector'] = async (key, o) => {
      const session = await mysql2Connector(key, o);
      return {
        query: async (sql) => {
          await new Promise((r) => setTimeout(r, 300));
          return session.query(sql);
        },
        close: () => session.close(),
      };
    };
    const started = Date.now();
    const err = await failure(
      probeInstance({ host: H, port: fake.port }, options({ queryTimeoutMs: 1000, probeTimeoutMs: 700, connector: slowConnector })),
    );
    expect(err.code).toBe('ERR_DISCOVERY_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
