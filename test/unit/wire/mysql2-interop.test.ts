/**
 * Interop check: a tiny in-process server driven only by our codecs greets, authenticates and answers
 * queries, and the real `mysql2` client library connects to it. This proves the codecs against a client
 * we did not write. No server process is started; it binds 127.0.0.1 on port 0.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import net from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import mysql from 'mysql2/promise';
import { PacketReader, PacketWriter, type Packet } from '../../../protocol/packet.js';
import {
  MYSQL_SERVER_CAPABILITIES,
  decodeHandshakeResponse41,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
  generateNonce,
} from '../../../protocol/handshake.js';
import {
  cachingSha2Stage2,
  decryptPasswordRsa,
  nativePasswordHash,
  verifyCachingSha2,
  verifyNativePassword,
} from '../../../protocol/auth.js';
import { encodeErr, encodeOk } from '../../../protocol/generic.js';
import { encodeTextResultSet, integerColumn, stringColumn } from '../../../protocol/resultset.js';
import { commandName, decodeComQuery } from '../../../protocol/commands.js';
import * as C from '../../../protocol/constants.js';

type Plugin = typeof C.MYSQL_NATIVE_PASSWORD | typeof C.CACHING_SHA2_PASSWORD;

interface Account {
  plugin: Plugin;
  password: string;
}

interface ServerConfig {
  greetingPlugin: Plugin;
  accounts: Record<string, Account>;
  /** caching_sha2_password: send perform_full_authentication instead of the fast path. */
  fullAuth?: boolean;
}

const keys = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

/** Delivers de-framed packets of one socket as promises. */
class PacketSource {
  private readonly queue: Packet[] = [];
  private waiter: { resolve: (p: Packet) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  readonly reader = new PacketReader();

  constructor(socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      try {
        for (let p = this.reader.next(); p; p = this.reader.next()) this.queue.push(p);
      } catch (e) {
        this.fail(e);
        return;
      }
      this.wake();
    });
    socket.on('close', () => this.fail(new Error('socket closed')));
  }

  private fail(e: unknown): void {
    this.failure ??= e;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(e);
    }
  }

  private wake(): void {
    if (this.waiter && this.queue.length > 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(this.queue.shift()!);
    }
  }

  next(): Promise<Packet> {
    const p = this.queue.shift();
    if (p) return Promise.resolve(p);
    if (this.failure) return Promise.reject(this.failure instanceof Error ? this.failure : new Error(String(this.failure)));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}

class TinyServer {
  readonly server: net.Server;
  readonly errors: unknown[] = [];
  readonly queries: string[] = [];
  readonly attributes: Array<Map<string, string> | null> = [];
  /** The authentication steps taken, per connection, e.g. "switch:mysql_native_password,native". */
  readonly authPaths: string[] = [];
  config: ServerConfig = { greetingPlugin: C.MYSQL_NATIVE_PASSWORD, accounts: {} };
  private nextId = 1;

  constructor() {
    this.server = net.createServer((socket) => {
      this.session(socket).catch((e: unknown) => {
        if (!(e instanceof Error && e.message === 'socket closed')) this.errors.push(e);
        socket.destroy();
      });
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async session(socket: net.Socket): Promise<void> {
    const src = new PacketSource(socket);
    const writer = new PacketWriter(0);
    // After our last packet of an exchange the client answers with the next id; a new command starts at 0.
    const send = (payload: Buffer, endsCommand = false): void => {
      socket.cork();
      for (const f of writer.frame(payload)) socket.write(f);
      socket.uncork();
      if (endsCommand) src.reader.resetSequence();
      else src.reader.expectSequence(writer.seq);
    };
    const cfg = this.config;
    const nonce = generateNonce();
    send(
      encodeHandshakeV10({
        serverVersion: '8.0.40-binlog-proxy',
        connectionId: this.nextId++,
        nonce,
        capabilities: MYSQL_SERVER_CAPABILITIES,
        charset: C.UTF8MB4_0900_AI_CI,
        statusFlags: C.SERVER_STATUS_AUTOCOMMIT,
        authPluginName: cfg.greetingPlugin,
      }),
    );

    let pkt = await src.next();
    writer.reset((pkt.seq + 1) & 0xff);
    const resp = decodeHandshakeResponse41(pkt.payload);
    this.attributes.push(resp.connectAttributes);
    const caps = (resp.capabilities & MYSQL_SERVER_CAPABILITIES) >>> 0;
    const deny = (): void => {
      send(encodeErr({ code: C.ER_ACCESS_DENIED_ERROR, sqlState: '28000', message: `Access denied for user '${resp.user}'@'localhost'` }));
      socket.end();
    };
    const account = cfg.accounts[resp.user];
    if (!account) return deny();

    let authNonce = nonce;
    let authData = resp.authResponse;
    const path: string[] = [];
    this.authPaths.push('');
    const step = (s: string): void => {
      path.push(s);
      this.authPaths[this.authPaths.length - 1] = path.join(',');
    };
    if (resp.authPluginName !== account.plugin || resp.authPluginName !== cfg.greetingPlugin) {
      authNonce = generateNonce();
      step(`switch:${account.plugin}`);
      send(encodeAuthSwitchRequest({ pluginName: account.plugin, data: Buffer.concat([authNonce, Buffer.from([0])]) }));
      pkt = await src.next();
      writer.reset((pkt.seq + 1) & 0xff);
      authData = pkt.payload;
    }

    if (account.plugin === C.MYSQL_NATIVE_PASSWORD) {
      step('native');
      if (!verifyNativePassword(authData, authNonce, nativePasswordHash(account.password))) return deny();
    } else if (account.password === '' || !cfg.fullAuth) {
      step('fast');
      if (!verifyCachingSha2(authData, authNonce, cachingSha2Stage2(account.password))) return deny();
      if (account.password !== '') send(encodeAuthMoreData(Buffer.from([C.CACHING_SHA2_FAST_AUTH_SUCCESS])));
    } else {
      send(encodeAuthMoreData(Buffer.from([C.CACHING_SHA2_PERFORM_FULL_AUTHENTICATION])));
      pkt = await src.next();
      writer.reset((pkt.seq + 1) & 0xff);
      step('full');
      if (pkt.payload.length === 1 && pkt.payload[0] === C.CACHING_SHA2_REQUEST_PUBLIC_KEY) {
        step('public-key');
        send(encodeAuthMoreData(Buffer.from(keys.publicKey)));
        pkt = await src.next();
        writer.reset((pkt.seq + 1) & 0xff);
      }
      const pw = decryptPasswordRsa(pkt.payload, authNonce, keys.privateKey);
      if (pw.toString('utf8') !== account.password) return deny();
    }
    send(encodeOk({ statusFlags: C.SERVER_STATUS_AUTOCOMMIT }, { capabilities: caps }), true);

    for (;;) {
      pkt = await src.next();
      writer.reset(1);
      const cmd = pkt.payload[0];
      if (cmd === C.COM_QUIT) {
        socket.end();
        return;
      }
      if (cmd === C.COM_PING) {
        send(encodeOk({ statusFlags: C.SERVER_STATUS_AUTOCOMMIT }, { capabilities: caps }), true);
        continue;
      }
      if (cmd !== C.COM_QUERY) {
        send(encodeErr({ code: C.ER_UNKNOWN_COM_ERROR, sqlState: '08S01', message: `Unknown command ${commandName(cmd ?? 0)}` }), true);
        continue;
      }
      const { sql } = decodeComQuery(pkt.payload);
      this.queries.push(sql);
      let payloads: Buffer[];
      if (/^select 1$/i.test(sql)) {
        payloads = encodeTextResultSet({ columns: [integerColumn('1')], rows: [[1]] }, { capabilities: caps });
      } else if (/^show variables/i.test(sql)) {
        payloads = encodeTextResultSet(
          { columns: [stringColumn('Variable_name'), stringColumn('Value')], rows: [['server_id', '77'], ['server_uuid', 'ae0c4b1a-0000-4000-8000-000000000001'], ['nothing', null]] },
          { capabilities: caps },
        );
      } else if (/^set /i.test(sql)) {
        payloads = [encodeOk({ statusFlags: C.SERVER_STATUS_AUTOCOMMIT }, { capabilities: caps })];
      } else {
        payloads = [encodeErr({ code: C.ER_PARSE_ERROR, sqlState: '42000', message: 'You have an error in your SQL syntax' })];
      }
      socket.cork();
      for (const p of payloads) for (const f of writer.frame(p)) socket.write(f);
      socket.uncork();
      src.reader.resetSequence();
    }
  }
}

describe('mysql2 against a server built from our codecs', () => {
  const server = new TinyServer();
  let port = 0;

  beforeAll(async () => {
    port = await server.listen();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => {
    expect(server.errors).toEqual([]);
  });

  const connect = (user: string, password: string) => mysql.createConnection({ host: '127.0.0.1', port, user, password, connectTimeout: 5000 });

  const accounts: Record<string, Account> = {
    native: { plugin: C.MYSQL_NATIVE_PASSWORD, password: 'n4tive-pw' },
    sha2: { plugin: C.CACHING_SHA2_PASSWORD, password: 'sh4-pw-é' },
    empty: { plugin: C.MYSQL_NATIVE_PASSWORD, password: '' },
    emptySha2: { plugin: C.CACHING_SHA2_PASSWORD, password: '' },
  };

  const cases: Array<[string, Plugin, string, string]> = [
    ['mysql_native_password, greeted with it', C.MYSQL_NATIVE_PASSWORD, 'native', 'native'],
    ['caching_sha2_password fast path, greeted with it', C.CACHING_SHA2_PASSWORD, 'sha2', 'fast'],
    ['mysql_native_password after an AuthSwitchRequest', C.CACHING_SHA2_PASSWORD, 'native', 'switch:mysql_native_password,native'],
    ['caching_sha2_password after an AuthSwitchRequest', C.MYSQL_NATIVE_PASSWORD, 'sha2', 'switch:caching_sha2_password,fast'],
    ['an empty mysql_native_password', C.MYSQL_NATIVE_PASSWORD, 'empty', 'native'],
    ['an empty caching_sha2_password', C.CACHING_SHA2_PASSWORD, 'emptySha2', 'fast'],
  ];

  for (const [title, greetingPlugin, user, path] of cases) {
    it(`logs in with ${title} and runs SELECT 1`, async () => {
      server.config = { greetingPlugin, accounts };
      const conn = await connect(user, accounts[user]!.password);
      try {
        const [rows, fields] = await conn.query('SELECT 1');
        expect(rows).toEqual([{ 1: 1 }]);
        expect((fields as Array<{ name: string; columnType: number }>)[0]).toMatchObject({ name: '1', columnType: C.MYSQL_TYPE_LONGLONG });
        expect(server.authPaths.at(-1)).toBe(path);
      } finally {
        await conn.end();
      }
    });
  }

  it('logs in with caching_sha2_password full authentication (RSA public-key request)', async () => {
    server.config = { greetingPlugin: C.CACHING_SHA2_PASSWORD, accounts, fullAuth: true };
    const conn = await connect('sha2', accounts.sha2!.password);
    try {
      expect(server.authPaths.at(-1)).toBe('full,public-key');
      const [rows] = await conn.query('SELECT 1');
      expect(rows).toEqual([{ 1: 1 }]);
    } finally {
      await conn.end();
    }
  });

  it('rejects a wrong password with ERR 1045 for both plugins', async () => {
    for (const [greetingPlugin, user] of [[C.MYSQL_NATIVE_PASSWORD, 'native'], [C.CACHING_SHA2_PASSWORD, 'sha2'], [C.CACHING_SHA2_PASSWORD, 'empty']] as const) {
      server.config = { greetingPlugin, accounts };
      const err = await connect(user, 'wrong').then(
        async (c) => {
          await c.end();
          return null;
        },
        (e: unknown) => e as { errno?: number; sqlState?: string },
      );
      expect(err?.errno).toBe(1045);
      expect(err?.sqlState).toBe('28000');
    }
  });

  it('answers SHOW VARIABLES, SET, an unknown statement and a ping on one connection', async () => {
    server.config = { greetingPlugin: C.CACHING_SHA2_PASSWORD, accounts };
    const conn = await connect('sha2', accounts.sha2!.password);
    try {
      const [vars] = await conn.query("SHOW VARIABLES LIKE 'server%'");
      expect(vars).toEqual([
        { Variable_name: 'server_id', Value: '77' },
        { Variable_name: 'server_uuid', Value: 'ae0c4b1a-0000-4000-8000-000000000001' },
        { Variable_name: 'nothing', Value: null },
      ]);
      const [ok] = await conn.query('SET @master_binlog_checksum = @@global.binlog_checksum');
      expect(ok).toMatchObject({ affectedRows: 0, serverStatus: C.SERVER_STATUS_AUTOCOMMIT });
      await expect(conn.query('FROB')).rejects.toMatchObject({ errno: 1064, sqlState: '42000' });
      await conn.ping();
      const [rows] = await conn.query('SELECT 1');
      expect(rows).toEqual([{ 1: 1 }]);
    } finally {
      await conn.end();
    }
    expect(server.queries).toContain('SET @master_binlog_checksum = @@global.binlog_checksum');
    expect(server.attributes.at(-1)?.get('_client_name')).toBe('Node-MySQL-2');
  });
});
