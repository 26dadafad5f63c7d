/**
 * One client connection, as a state machine (§7.2):
 *
 *   GREETING_SENT → (SSL_UPGRADE) → AUTH (→ AUTH_SWITCH → AUTH_MORE_DATA) → COMMAND ↔ (QUERY | REGISTER)
 *                                                                                   → DUMPING → COMMAND | closed
 *
 * The connection phase has a deadline (handshakeTimeoutMs) and a small packet limit; after a successful
 * login the limit grows and the idle timeout is the session's wait_timeout. Every error becomes an ERR
 * packet with the server's errno (errors.ts); codec errors and failed logins close the connection; nothing
 * a client sends can throw out of `run()`.
 */
import type { Socket } from 'node:net';
import { decryptPasswordRsa, decodeClearPassword, mariadbTlsFingerprintProof } from '../../protocol/auth.js';
import {
  CACHING_SHA2_FAST_AUTH_SUCCESS,
  CACHING_SHA2_PASSWORD,
  CACHING_SHA2_PERFORM_FULL_AUTHENTICATION,
  CACHING_SHA2_REQUEST_PUBLIC_KEY,
  CLIENT_DEPRECATE_EOF,
  CLIENT_PLUGIN_AUTH,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  COM_BINLOG_DUMP,
  COM_BINLOG_DUMP_GTID,
  COM_INIT_DB,
  COM_PING,
  COM_PROCESS_KILL,
  COM_QUERY,
  COM_QUIT,
  COM_REGISTER_SLAVE,
  COM_RESET_CONNECTION,
  COM_SET_OPTION,
  COM_STATISTICS,
  MYSQL_NATIVE_PASSWORD,
  SEMI_SYNC_MAGIC,
  SERVER_STATUS_AUTOCOMMIT,
} from '../../protocol/constants.js';
import { ProtocolError } from '../../protocol/errors.js';
import { encodeEof, encodeErr, encodeOk } from '../../protocol/generic.js';
import {
  decodeHandshakeResponse41,
  decodeSslRequest,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeV10,
  generateNonce,
  isSslRequest,
  MARIADB_SERVER_CAPABILITIES,
  MYSQL_SERVER_CAPABILITIES,
  withTls,
  type HandshakeResponse41,
} from '../../protocol/handshake.js';
import {
  commandName,
  decodeComBinlogDump,
  decodeComBinlogDumpGtid,
  decodeComInitDb,
  decodeComProcessKill,
  decodeComRegisterSlave,
  decodeSemiSyncAck,
} from '../../protocol/commands.js';
import { MysqlGtidSet } from '../../protocol/gtid/mysql.js';
import { encodeTextResultSet, encodeTextRow, type ColumnDefinition, type TextValue } from '../../protocol/resultset.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { SyncerStatus } from '../syncer/types.js';
import {
  hasEmptyPassword,
  isEmptyReply,
  isSupportedPlugin,
  verifyClearPassword,
  verifyScramble,
  type Account,
  type AuthPlugin,
  type UserRegistry,
} from './auth.js';
import { ConnectionClosedError, PacketConn, ReadTimeoutError } from './conn.js';
import { SocketDumpOutput } from './dump_output.js';
import type { DumpContext, DumpProgress, DumpRequest, DumpSessionVars, Flavor, SourceIdentity } from './dump/types.js';
import {
  accessDenied,
  badHandshake,
  fatalReadingBinlog,
  hostBlocked,
  isFatal,
  malformedPacket,
  SqlError,
  toErrPacket,
  tooManyConnections,
  unknownCommand,
  unknownThread,
} from './errors.js';
import type { Face } from './flavor.js';
import { PassthroughSession, type PassthroughTarget } from './passthrough.js';
import type { DumpAbortReason, ReplicaRegistry, SessionHandle } from './registry.js';
import type { SourceView } from './source.js';
import { routeQuery, type SqlContext } from './sql/router.js';
import { asInteger, type SqlValue } from './sql/values.js';
import type { AuthThrottle } from './throttle.js';
import type { RsaKeys, TlsMaterial } from './tls.js';
import { catalogueFor, type ServerFacts, type StatusFacts } from './variables.js';

export interface SessionLimits {
  /** Largest packet accepted before authentication (bytes). */
  maxPacketBeforeAuth: number;
  /** Largest packet accepted after authentication (bytes); also @@max_allowed_packet. */
  maxPacketAfterAuth: number;
  /** Time to finish the connection phase (TLS and authentication included). */
  handshakeTimeoutMs: number;
  /** Default wait_timeout (s): an idle authenticated connection is closed after it. */
  waitTimeoutSec: number;
  /** Socket write-buffer mark above which a dump waits (bytes). */
  dumpHighWaterMark: number;
  /** Connections accepted at once; more get ERR 1040. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: SessionLimits = {
  maxPacketBeforeAuth: 64 * 1024,
  maxPacketAfterAuth: 16 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  waitTimeoutSec: 28_800,
  // 256 KiB per replica: the kernel's socket buffer does the smoothing; 4 MiB made 50 slow readers cost 200 MB,
  // and 512 KiB 30-50 MB more than 256 KiB with 50 readers at ~1 GB/s, for the same throughput (bench/run.ts,
  // scenario 4).
  dumpHighWaterMark: 256 * 1024,
  maxConnections: 1000,
};

/** What a session needs from the server that owns it. */
export interface SessionEnv {
  identity: SourceIdentity;
  source: SourceView;
  users: UserRegistry;
  throttle: AuthThrottle;
  registry: ReplicaRegistry;
  tls: TlsMaterial | null;
  rsa: RsaKeys | null;
  limits: SessionLimits;
  semiSync: boolean;
  passthrough: (() => PassthroughTarget | null) | null;
  /** The listener's face for a new connection (flavour, versions). */
  face(): Face;
  facts(face: Face): ServerFacts;
  statusFacts(flavor: Flavor): StatusFacts;
  syncerStatus(): SyncerStatus | null;
  runDump(ctx: DumpContext): Promise<void>;
  metrics: Metrics | null;
  /** Live connection count (this one included). */
  connectionCount(): number;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
export function clientHost(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

const SAME_REPLICA_MESSAGE = 'A replica with the same server_uuid/server_id as this replica has connected to the source';

export class Session implements SessionHandle {
  readonly connectionId: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly connectTime = new Date();
  user = '';
  private readonly conn: PacketConn;
  private readonly log: Logger;
  private face!: Face;
  private facts!: ServerFacts;
  private capabilities = 0;
  private resultCollation = 0;
  database: string | null = null;
  private readonly userVars = new Map<string, SqlValue>();
  private readonly sessionVars = new Map<string, SqlValue>();
  private currentDump: SocketDumpOutput | null = null;
  private passthrough: PassthroughSession | null = null;
  private authenticated = false;

  constructor(
    socket: Socket,
    connectionId: number,
    private readonly env: SessionEnv,
    log: Logger,
  ) {
    this.connectionId = connectionId;
    this.remoteAddress = clientHost(socket.remoteAddress);
    this.remotePort = socket.remotePort ?? 0;
    this.log = log.child({ conn: connectionId, client: `${this.remoteAddress}:${this.remotePort}` });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.conn = new PacketConn(socket, env.limits.maxPacketBeforeAuth);
    this.conn.onClosed(() => this.currentDump?.abort('closed'));
  }

  get isAuthenticated(): boolean {
    return this.authenticated;
  }

  // ----- SessionHandle --------------------------------------------------------------------------------

  abortDump(reason: DumpAbortReason): void {
    this.currentDump?.abort(reason);
  }

  close(reason: DumpAbortReason): void {
    this.currentDump?.abort(reason);
    if (reason === 'server_stopped') this.conn.end();
    else this.conn.destroy(`connection closed: ${reason}`);
  }

  // ----- lifecycle ---------------------------------------------------------------------------------------

  /** Runs the connection to its end. Never rejects. */
  async run(): Promise<void> {
    try {
      this.face = this.env.face();
      this.facts = this.env.facts(this.face);
      this.resultCollation = this.face.collation;
      if (this.env.throttle.isBlocked(this.remoteAddress)) {
        this.log.warn('refused a blocked client address');
        this.sendErrAndClose(hostBlocked(this.face.flavor, this.remoteAddress));
        return;
      }
      if (this.env.connectionCount() > this.env.limits.maxConnections) {
        this.log.warn({ max: this.env.limits.maxConnections }, 'refused a connection over the limit');
        this.sendErrAndClose(tooManyConnections());
        return;
      }
      if (!(await this.handshake())) return;
      await this.commandLoop();
    } catch (err) {
      if (err instanceof ConnectionClosedError || err instanceof ReadTimeoutError) {
        this.log.debug({ reason: err.message }, 'connection ended');
      } else {
        this.log.error({ err }, 'session failed');
      }
      this.conn.destroy();
    } finally {
      this.currentDump?.abort('closed');
      this.passthrough?.close();
      if (!this.conn.closed) this.conn.end();
    }
  }

  private sendErrAndClose(err: unknown, phase: 'handshake' | 'command' = 'handshake'): void {
    this.conn.write(encodeErr(toErrPacket(err, phase)));
    this.conn.end();
  }

  // ----- connection phase ---------------------------------------------------------------------------------

  /** Greeting, optional TLS, authentication. Returns true when the client is logged in. */
  private async handshake(): Promise<boolean> {
    const deadline = setTimeout(() => {
      this.log.info({ ms: this.env.limits.handshakeTimeoutMs }, 'handshake timed out');
      this.conn.destroy('handshake timeout');
    }, this.env.limits.handshakeTimeoutMs);
    deadline.unref();
    try {
      return await this.handshakeSteps();
    } catch (err) {
      if (err instanceof ConnectionClosedError) throw err;
      if (err instanceof ProtocolError || err instanceof SqlError) {
        this.log.info({ err: err.message }, 'bad handshake');
        if (!this.conn.closed) this.sendErrAndClose(err, 'handshake');
        return false;
      }
      throw err;
    } finally {
      clearTimeout(deadline);
    }
  }

  private async handshakeSteps(): Promise<boolean> {
    const face = this.face;
    const nonce = generateNonce();
    const base = face.flavor === 'mariadb' ? MARIADB_SERVER_CAPABILITIES : MYSQL_SERVER_CAPABILITIES;
    const serverCaps = this.env.tls ? withTls(base) : base;
    this.conn.seq = 0;
    this.conn.write(
      encodeHandshakeV10({
        serverVersion: face.greeting,
        connectionId: this.connectionId,
        nonce,
        capabilities: serverCaps,
        charset: face.collation,
        statusFlags: SERVER_STATUS_AUTOCOMMIT,
        authPluginName: face.plugin,
      }),
    );
    let packet = await this.conn.read();
    if (isSslRequest(packet.payload)) {
      if (!this.env.tls) throw badHandshake();
      decodeSslRequest(packet.payload);
      await this.conn.upgradeToTls(this.env.tls.secureContext, this.env.limits.handshakeTimeoutMs);
      packet = await this.conn.read();
    }
    let resp: HandshakeResponse41;
    try {
      resp = decodeHandshakeResponse41(packet.payload);
    } catch (err) {
      if (err instanceof ProtocolError) throw badHandshake();
      throw err;
    }
    if ((resp.capabilities & CLIENT_SSL) !== 0 && !this.conn.encrypted) {
      // CLIENT_SSL in a full response without an SSLRequest first: the client expected TLS we never started.
      throw badHandshake();
    }
    this.capabilities = (resp.capabilities & serverCaps) >>> 0;
    this.user = resp.user;
    if (resp.charset !== 0) this.resultCollation = resp.charset;
    this.database = resp.database && resp.database.length > 0 ? resp.database : null;
    const account = this.env.users.lookup(resp.user);

    const outcome = await this.authenticate(resp, account, nonce);
    if (!outcome.ok) {
      const blocked = this.env.throttle.recordFailure(this.remoteAddress);
      this.log.warn({ user: resp.user, plugin: outcome.plugin, blocked }, 'authentication failed');
      this.env.metrics?.errors.inc({ code: 'ERR_ACCESS_DENIED' });
      if (!this.conn.closed) this.sendErrAndClose(accessDenied(resp.user, this.remoteAddress, outcome.usedPassword));
      return false;
    }
    this.env.throttle.recordSuccess(this.remoteAddress);
    let info: Buffer | undefined;
    if (face.flavor === 'mariadb' && this.conn.encrypted && this.env.tls && account.nativeHash.length > 0 && outcome.plugin === MYSQL_NATIVE_PASSWORD) {
      info = mariadbTlsFingerprintProof(account.nativeHash, nonce, this.env.tls.certDer);
    }
    this.conn.write(encodeOk({ statusFlags: SERVER_STATUS_AUTOCOMMIT, info }, { capabilities: this.capabilities }));
    this.conn.setMaxPacketSize(this.env.limits.maxPacketAfterAuth);
    this.authenticated = true;
    this.log.info(
      { user: resp.user, plugin: outcome.plugin, fullAuth: outcome.fullAuth, tls: this.conn.encrypted, program: resp.connectAttributes?.get('program_name') },
      'client authenticated',
    );
    return true;
  }

  /** The plugin exchange. Resolves with the outcome; only I/O and codec problems reject. */
  private async authenticate(
    resp: HandshakeResponse41,
    account: Account,
    nonce: Buffer,
  ): Promise<{ ok: boolean; plugin: AuthPlugin; usedPassword: boolean; fullAuth?: 'tls' | 'rsa' }> {
    const pluginAuth = (this.capabilities & CLIENT_PLUGIN_AUTH) !== 0;
    let clientPlugin = resp.authPluginName;
    if (!pluginAuth) {
      // Pre-plugin clients answer with a mysql_native_password scramble (4.1 secure connection).
      if ((this.capabilities & CLIENT_SECURE_CONNECTION) === 0) throw badHandshake();
      clientPlugin = MYSQL_NATIVE_PASSWORD;
    }
    let plugin: AuthPlugin;
    let reply: Buffer;
    if (isSupportedPlugin(clientPlugin) && (clientPlugin === this.face.plugin || !pluginAuth)) {
      plugin = clientPlugin;
      reply = resp.authResponse;
    } else {
      // The client used another plugin than the greeting's (its reply was not made with our nonce) or one
      // we do not speak: switch to its plugin when we support it, else to ours.
      plugin = isSupportedPlugin(clientPlugin) ? clientPlugin : this.face.plugin;
      this.conn.write(encodeAuthSwitchRequest({ pluginName: plugin, data: Buffer.concat([nonce, Buffer.from([0])]) }));
      reply = (await this.conn.read()).payload;
    }
    const usedPassword = !isEmptyReply(reply);
    if (plugin === MYSQL_NATIVE_PASSWORD) {
      return { ok: verifyScramble(account, plugin, reply, nonce), plugin, usedPassword };
    }
    // caching_sha2_password
    if (!usedPassword) return { ok: hasEmptyPassword(account), plugin, usedPassword };
    if (!account.forceFullAuth) {
      if (!verifyScramble(account, CACHING_SHA2_PASSWORD, reply, nonce)) return { ok: false, plugin, usedPassword };
      this.conn.write(encodeAuthMoreData(Buffer.from([CACHING_SHA2_FAST_AUTH_SUCCESS])));
      return { ok: true, plugin, usedPassword };
    }
    this.conn.write(encodeAuthMoreData(Buffer.from([CACHING_SHA2_PERFORM_FULL_AUTHENTICATION])));
    let data = (await this.conn.read()).payload;
    let password: Buffer;
    const fullAuth = this.conn.encrypted ? 'tls' : 'rsa';
    if (this.conn.encrypted) {
      password = decodeClearPassword(data);
    } else {
      const rsa = this.env.rsa;
      if (!rsa) return { ok: false, plugin, usedPassword };
      if (data.length === 1 && data[0] === CACHING_SHA2_REQUEST_PUBLIC_KEY) {
        this.conn.write(encodeAuthMoreData(Buffer.from(rsa.publicKeyPem, 'utf8')));
        data = (await this.conn.read()).payload;
      }
      try {
        password = decryptPasswordRsa(data, nonce, rsa.privateKeyPem);
      } catch (err) {
        // A clear password over an insecure channel, or garbage: refuse, as MySQL does.
        if (err instanceof ProtocolError) return { ok: false, plugin, usedPassword };
        throw err;
      }
    }
    return { ok: verifyClearPassword(account, password), plugin, usedPassword, fullAuth };
  }

  // ----- command phase --------------------------------------------------------------------------------------

  private waitTimeoutMs(): number {
    const v = asInteger(this.sessionVars.get('wait_timeout') ?? null);
    const sec = v !== null && v > 0n ? Number(v) : this.env.limits.waitTimeoutSec;
    return Math.min(sec, 31_536_000) * 1000;
  }

  private async commandLoop(): Promise<void> {
    for (;;) {
      if (this.conn.closed) return;
      this.conn.resetSequence();
      let payload: Buffer;
      try {
        payload = (await this.conn.read({ timeoutMs: this.waitTimeoutMs() })).payload;
      } catch (err) {
        if (err instanceof ReadTimeoutError) {
          this.log.info('idle connection closed after wait_timeout');
          this.conn.end();
          return;
        }
        if (err instanceof ProtocolError) {
          this.log.info({ err: err.message }, 'protocol error');
          this.sendErrAndClose(err, 'command');
          return;
        }
        throw err;
      }
      if (payload.length === 0) {
        this.conn.write(encodeErr(toErrPacket(unknownCommand())));
        continue;
      }
      const cmd = payload[0]!;
      if (cmd === COM_QUIT) {
        this.conn.end();
        return;
      }
      try {
        await this.dispatch(cmd, payload);
      } catch (err) {
        if (err instanceof ConnectionClosedError) throw err;
        if (this.conn.closed) return;
        if (!(err instanceof SqlError) && !(err instanceof ProtocolError)) {
          this.log.error({ err, command: commandName(cmd) }, 'command failed');
        }
        this.conn.write(encodeErr(toErrPacket(err)));
        if (isFatal(err)) {
          this.conn.end();
          return;
        }
      }
    }
  }

  private writeOk(): void {
    this.conn.write(encodeOk({ statusFlags: SERVER_STATUS_AUTOCOMMIT }, { capabilities: this.capabilities }));
  }

  private async dispatch(cmd: number, payload: Buffer): Promise<void> {
    switch (cmd) {
      case COM_PING:
        this.writeOk();
        return;
      case COM_INIT_DB: {
        const { database } = decodeComInitDb(payload);
        this.database = database.length > 0 ? database : null;
        this.writeOk();
        return;
      }
      case COM_QUERY:
        await this.query(payload.subarray(1).toString('utf8'));
        return;
      case COM_REGISTER_SLAVE:
        this.registerSlave(payload);
        return;
      case COM_BINLOG_DUMP:
      case COM_BINLOG_DUMP_GTID:
        await this.dump(cmd, payload);
        return;
      case COM_SET_OPTION:
        if (payload.length < 3) throw malformedPacket();
        if (this.capabilities & CLIENT_DEPRECATE_EOF) {
          this.conn.write(encodeOk({ statusFlags: SERVER_STATUS_AUTOCOMMIT }, { capabilities: this.capabilities, eofHeader: true }));
        } else {
          this.conn.write(encodeEof({ statusFlags: SERVER_STATUS_AUTOCOMMIT }));
        }
        return;
      case COM_RESET_CONNECTION:
        this.userVars.clear();
        this.sessionVars.clear();
        this.resultCollation = this.face.collation;
        this.writeOk();
        return;
      case COM_STATISTICS: {
        const s = this.env.statusFacts(this.face.flavor);
        this.conn.write(Buffer.from(`Uptime: ${s.uptimeSeconds}  Threads: ${s.threadsConnected}  Questions: 0  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: 0.000`));
        return;
      }
      case COM_PROCESS_KILL: {
        const { connectionId } = decodeComProcessKill(payload);
        if (!this.env.registry.kill(connectionId, 'connection')) throw unknownThread(connectionId);
        if (!this.conn.closed) this.writeOk();
        return;
      }
      default:
        this.log.debug({ command: commandName(cmd) }, 'unknown command');
        throw unknownCommand();
    }
  }

  // ----- COM_QUERY --------------------------------------------------------------------------------------------

  private sqlContext(): SqlContext {
    return {
      flavor: this.face.flavor,
      facts: this.facts,
      catalogue: catalogueFor(this.face.flavor),
      source: this.env.source,
      connectionId: this.connectionId,
      user: this.user,
      host: this.remoteAddress,
      database: this.database,
      userVars: this.userVars,
      sessionVars: this.sessionVars,
      now: Date.now,
      style: { flavor: this.face.flavor, resultCollation: this.resultCollation },
      setDatabase: (db) => {
        this.database = db;
      },
      setResultCollation: (c) => {
        this.resultCollation = c;
      },
      registeredSlaves: () => this.env.registry.registeredSlaves(),
      processList: () => this.env.registry.processList(this.connectionId),
      syncerStatus: () => this.env.syncerStatus(),
      statusFacts: () => this.env.statusFacts(this.face.flavor),
      kill: (id, what) => (this.env.registry.kill(id, what) ? 'ok' : 'unknown'),
    };
  }

  private async query(sql: string): Promise<void> {
    const reply = await routeQuery(sql, this.sqlContext());
    if (this.conn.closed) return; // KILL of our own connection
    switch (reply.kind) {
      case 'ok':
        this.writeOk();
        return;
      case 'rows':
        this.writeRows(reply.columns, reply.rows);
        return;
      case 'forward':
        if (this.env.passthrough && reply.readOnly) {
          await this.forward(sql);
          return;
        }
        throw reply.error;
    }
  }

  private writeRows(columns: ColumnDefinition[], rows: TextValue[][]): void {
    this.conn.writeAll(encodeTextResultSet({ columns, rows }, { capabilities: this.capabilities, statusFlags: SERVER_STATUS_AUTOCOMMIT }));
  }

  private async forward(sql: string): Promise<void> {
    if (!this.passthrough) this.passthrough = new PassthroughSession(this.env.passthrough!, this.log.child({ component: 'passthrough' }));
    const deprecateEof = (this.capabilities & CLIENT_DEPRECATE_EOF) !== 0;
    const conn = this.conn;
    const caps = this.capabilities;
    const hwm = this.env.limits.dumpHighWaterMark;
    this.log.debug({ sql: sql.length > 200 ? `${sql.slice(0, 200)}…` : sql }, 'forwarding a statement to the primary');
    await this.passthrough.execute(sql, this.database, {
      ok(ok) {
        conn.write(encodeOk({ affectedRows: ok.affectedRows, lastInsertId: ok.insertId, warnings: ok.warnings, info: ok.info, statusFlags: SERVER_STATUS_AUTOCOMMIT }, { capabilities: caps }));
      },
      columns(cols) {
        const head = encodeTextResultSet({ columns: cols, rows: [] }, { capabilities: caps });
        // Everything but the terminator: count, definitions (and the EOF without DEPRECATE_EOF).
        conn.writeAll(head.slice(0, head.length - 1));
      },
      row(values) {
        conn.write(encodeTextRow(values));
        return conn.writableLength < hwm;
      },
      drained: () => conn.drained(hwm / 2),
      end(warnings) {
        conn.write(
          deprecateEof
            ? encodeOk({ statusFlags: SERVER_STATUS_AUTOCOMMIT, warnings }, { capabilities: caps, eofHeader: true })
            : encodeEof({ warnings, statusFlags: SERVER_STATUS_AUTOCOMMIT }),
        );
      },
    });
  }

  // ----- COM_REGISTER_SLAVE -------------------------------------------------------------------------------------

  private registerSlave(payload: Buffer): void {
    let r;
    try {
      r = decodeComRegisterSlave(payload);
    } catch (err) {
      if (err instanceof ProtocolError) throw malformedPacket();
      throw err;
    }
    this.env.registry.register(this.connectionId, {
      serverId: r.serverId,
      host: r.host,
      port: r.port,
      rank: r.rank,
      masterId: r.masterId,
    });
    this.log.info({ serverId: r.serverId, reportHost: r.host, reportPort: r.port }, 'replica registered');
    this.writeOk();
  }

  // ----- binlog dump ----------------------------------------------------------------------------------------------

  /** The replica's session variables, as the primary's dump thread reads them (§2, §3.6, §5.1). */
  dumpVars(): DumpSessionVars {
    const flavor = this.face.flavor;
    const u = (name: string): SqlValue => this.userVars.get(name) ?? null;
    const first = (...names: string[]): SqlValue => {
      for (const n of names) {
        const v = this.userVars.get(n);
        if (v !== undefined && v !== null) return v;
      }
      return null;
    };
    const text = (v: SqlValue): string | null => (v === null ? null : typeof v === 'bigint' ? v.toString() : v);
    const flag = (v: SqlValue): boolean => {
      const n = asInteger(v);
      return n !== null && n !== 0n;
    };
    const checksumVar = flavor === 'mysql' ? first('source_binlog_checksum', 'master_binlog_checksum') : u('master_binlog_checksum');
    const checksumText = text(checksumVar)?.trim().toUpperCase() ?? null;
    const clientChecksum = checksumText === 'CRC32' || checksumText === 'NONE' ? checksumText : null;
    const periodVar = flavor === 'mysql' ? first('source_heartbeat_period', 'master_heartbeat_period') : u('master_heartbeat_period');
    let heartbeatPeriodNs = asInteger(periodVar);
    if (heartbeatPeriodNs === null && periodVar !== null) {
      const f = Number(text(periodVar));
      heartbeatPeriodNs = Number.isFinite(f) && f > 0 ? BigInt(Math.round(f)) : 0n;
    }
    if (heartbeatPeriodNs === null || heartbeatPeriodNs < 0n) heartbeatPeriodNs = 0n;
    const capability = asInteger(u('mariadb_slave_capability'));
    const semiAsked = flavor === 'mysql' ? flag(u('rpl_semi_sync_replica')) || flag(u('rpl_semi_sync_slave')) : flag(u('rpl_semi_sync_slave'));
    const until = text(u('slave_until_gtid'));
    const uuid = text(first('replica_uuid', 'slave_uuid'));
    return {
      flavor,
      clientChecksum,
      heartbeatPeriodNs,
      mariadbSlaveCapability: capability === null || capability < 0n || capability > 255n ? 0 : Number(capability),
      slaveConnectState: text(this.userVars.get('slave_connect_state') ?? null),
      slaveGtidStrictMode: flag(u('slave_gtid_strict_mode')),
      slaveGtidIgnoreDuplicates: flag(u('slave_gtid_ignore_duplicates')),
      slaveUntilGtid: until === null || until === '' ? null : until,
      semiSync: this.env.semiSync && semiAsked,
      replicaUuid: uuid === null || uuid === '' ? null : uuid,
      skipReplication: flag(this.sessionVars.get('skip_replication') ?? null),
    };
  }

  private decodeDump(cmd: number, payload: Buffer): DumpRequest {
    try {
      if (cmd === COM_BINLOG_DUMP) {
        const d = decodeComBinlogDump(payload);
        return { command: 'COM_BINLOG_DUMP', ...d };
      }
      const d = decodeComBinlogDumpGtid(payload);
      return {
        command: 'COM_BINLOG_DUMP_GTID',
        flags: d.flags,
        serverId: d.serverId,
        fileName: d.fileName,
        position: d.position,
        gtidSet: MysqlGtidSet.decode(d.gtidData),
      };
    } catch (err) {
      if (err instanceof ProtocolError) throw malformedPacket();
      throw err;
    }
  }

  private async dump(cmd: number, payload: Buffer): Promise<void> {
    const flavor = this.face.flavor;
    if (cmd === COM_BINLOG_DUMP_GTID && flavor === 'mariadb') throw unknownCommand();
    const request = this.decodeDump(cmd, payload);
    const stored = this.env.source.flavor();
    if (stored === null) throw fatalReadingBinlog('Binary log is not open');
    if (stored !== flavor) {
      throw fatalReadingBinlog(`The stored binlog is ${stored}, but this connection was greeted as ${flavor}; reconnect`);
    }
    const vars = this.dumpVars();
    const output = new SocketDumpOutput(this.conn, {
      semiSync: vars.semiSync,
      highWaterMark: this.env.limits.dumpHighWaterMark,
      metrics: this.env.metrics,
    });
    const progress: DumpProgress = { file: null, position: null, gtid: null, eventsSent: 0, bytesSent: 0, lastEventTimestamp: null };
    const dumpLog = this.log.child({ dump: request.command, serverId: request.serverId });
    this.currentDump = output;
    const replaced = this.env.registry.startDump(this.connectionId, {
      flavor,
      request,
      serverId: request.serverId,
      replicaUuid: vars.replicaUuid,
      semiSync: vars.semiSync,
      gtidConnect: flavor === 'mariadb' && vars.slaveConnectState !== null,
      startedAt: new Date(),
      progress,
    });
    if (replaced.length > 0) dumpLog.info({ replaced }, 'a newer dump of the same replica replaced older ones');
    this.env.metrics?.connectedReplicas.inc();
    dumpLog.info(
      {
        file: request.fileName,
        position: request.command === 'COM_BINLOG_DUMP' ? request.position : Number(request.position),
        flags: request.flags,
        checksum: vars.clientChecksum,
        semiSync: vars.semiSync,
        gtidConnect: vars.slaveConnectState,
      },
      'dump requested',
    );
    const stopReading = new AbortController();
    const reading = this.readDuringDump(output, stopReading.signal, dumpLog);
    try {
      await this.env.runDump({ identity: this.env.identity, vars, request, output, log: dumpLog, progress });
    } catch (err) {
      if (output.end === null && output.abortReason === null) {
        dumpLog.error({ err }, 'binlog dump failed');
        const p = toErrPacket(err);
        output.sendError(1236, 'HY000', p.code === 1236 ? p.message : `binlog-proxy: ${p.message}`);
      } else {
        dumpLog.debug({ err: (err as Error).message }, 'binlog dump ended with an error after its end');
      }
    } finally {
      stopReading.abort();
      await reading;
      this.env.registry.endDump(this.connectionId);
      this.env.metrics?.connectedReplicas.dec();
      this.currentDump = null;
    }
    const reason = output.abortReason;
    dumpLog.info({ end: output.end, aborted: reason, events: output.eventsSent, bytes: output.bytesSent }, 'dump finished');
    if (reason === 'replaced') {
      if (flavor === 'mysql') this.conn.write(encodeErr({ code: 1236, sqlState: 'HY000', message: SAME_REPLICA_MESSAGE }));
      this.conn.end();
      return;
    }
    if (reason === 'killed_query') {
      this.conn.write(encodeErr({ code: 1317, sqlState: '70100', message: 'Query execution was interrupted' }));
      return;
    }
    if (reason !== null) {
      if (!this.conn.closed) this.conn.end();
      return;
    }
    if (output.end === null) output.sendEof();
  }

  /** Reads the replica's packets during a dump: semi-sync ACKs (seq 0), COM_QUIT; anything else ends it. */
  private async readDuringDump(output: SocketDumpOutput, stop: AbortSignal, log: Logger): Promise<void> {
    for (;;) {
      let payload: Buffer;
      try {
        payload = (await this.conn.read({ sideSequence: 0, signal: stop })).payload;
      } catch (err) {
        if (stop.aborted) return;
        if (err instanceof ProtocolError) log.info({ err: err.message }, 'bad packet from the replica during a dump');
        output.abort('closed');
        this.conn.destroy();
        return;
      }
      if (payload.length > 0 && payload[0] === SEMI_SYNC_MAGIC && output.semiSyncOn) {
        try {
          const ack = decodeSemiSyncAck(payload);
          output.deliverAck(ack.fileName, ack.position);
          continue;
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          log.info({ err: err.message }, 'malformed semi-sync ACK');
        }
      } else if (payload.length === 1 && payload[0] === COM_QUIT) {
        output.abort('closed');
        this.conn.end();
        return;
      } else {
        log.info({ command: payload.length > 0 ? commandName(payload[0]!) : 'empty' }, 'unexpected packet during a binlog dump');
      }
      output.abort('closed');
      this.conn.destroy();
      return;
    }
  }
}
