/**
 * The upstream syncer: connects to the primary as a replica and keeps the LevelDB log identical to the
 * primary's binlog (issue 4).
 *
 * One loop per start(): connect (src/upstream/connection.ts) → session set-up and start point
 * (src/upstream/session.ts) → dump stream → pipeline (pipeline.ts) → storage writer (writer.ts). When the
 * stream ends for any reason the loop classifies the failure (classify.ts), shows it in the status, waits a
 * capped, jittered exponential backoff (backoff.ts) and connects again, forever, until stop(). Every new
 * connection resumes from what storage holds, so a cut anywhere loses nothing and duplicates nothing: only
 * whole transactions are appended, and the pipeline drops whatever the primary re-sends before the stored end.
 *
 * A start from GTIDs first runs a "locate" connection that only learns where the primary starts sending for
 * those GTIDs, then streams from that file and position (see session.ts).
 *
 * Status: `connecting` while (re)connecting, `running` while the dump streams, `error` after a failure that
 * needs an operator (wrong password, missing grant, no binlog, purged start position, server_id clash,
 * storage refusing writes; the loop still retries, slowly), `stopped` after stop(). The password never
 * appears in the status or the logs.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { encodeSemiSyncAck } from '../../protocol/commands.js';
import { formatMariadbGtid, type MariadbGtid } from '../../protocol/gtid/mariadb.js';
import { formatMysqlGtid, type MysqlGtid } from '../../protocol/gtid/mysql.js';
import { parseHostPort, type StartPosition, type SyncerArgs } from '../config/config.js';
import { ValidationError } from '../config/validate.js';
import { ConflictError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { UpstreamConnection, type UpstreamConnectOptions } from '../upstream/connection.js';
import { UpstreamError } from '../upstream/errors.js';
import { canonicalGtids, setupSession, type Session, type StartRequest } from '../upstream/session.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { classifyError, type Classified } from './classify.js';
import { StreamPipeline } from './pipeline.js';
import type { SyncerStore } from './store.js';
import type { SyncerControl, SyncerCounters, SyncerState, SyncerStatus } from './types.js';
import { StoreWriter, type StoredInfo } from './writer.js';

export interface SyncerIdentity {
  /** Our @replica_uuid toward a MySQL primary when syncer_uuid is not given (else one is generated and kept). */
  serverUuid?: string;
  /** report_host / report_port of COM_REGISTER_SLAVE (SHOW SLAVE HOSTS on the primary). */
  reportHost?: string;
  reportPort?: number;
}

export interface SyncerTuning {
  /** Transactions above this many bytes are streamed to storage (default 32 MiB). */
  largeTransactionBytes?: number;
  /** Pause the socket while this many event bytes wait for storage (default 64 MiB); resume at a quarter. */
  maxPendingBytes?: number;
  /** Heartbeat period asked from the primary when syncer args give none (default 15 s). */
  defaultHeartbeatMs?: number;
  /** No packet for this many heartbeat periods means a dead connection (default 2.5). */
  idleHeartbeats?: number;
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
}

export interface SyncerDeps {
  store: SyncerStore;
  log: Logger;
  metrics: Metrics;
  identity?: SyncerIdentity;
  tuning?: SyncerTuning;
}

const UUID_META = 'syncer.uuid';
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** How often a syncer stopped by a full disk checks whether space came back. */
const STORAGE_FULL_RETRY_MS = 3_000;

function emptyCounters(): SyncerCounters {
  return { events_received: 0, bytes_received: 0, transactions_stored: 0, heartbeats_received: 0, reconnects: 0, checksum_errors: 0 };
}

function gtidText(g: MysqlGtid | MariadbGtid | null): string | null {
  if (g === null) return null;
  return 'domainId' in g ? formatMariadbGtid(g) : formatMysqlGtid(g);
}

/** Validates the start position of the args (throws ValidationError naming `start`). */
function checkStart(start: StartPosition | undefined): void {
  if (start === undefined || start === 'current' || start === 'earliest') return;
  if (typeof start === 'object' && start !== null) {
    if ('gtid' in start) {
      let ok = false;
      for (const flavor of ['mysql', 'mariadb'] as const) {
        try {
          canonicalGtids(flavor, start.gtid);
          ok = true;
        } catch (err) {
          if (!(err instanceof UpstreamError)) throw err;
        }
      }
      if (!ok) throw new ValidationError('start.gtid', `start.gtid '${start.gtid}' is neither a MySQL GTID set nor a MariaDB GTID position`);
      return;
    }
    if ('file' in start) {
      if (!/^[A-Za-z0-9_.-]{1,255}$/.test(start.file)) throw new ValidationError('start.file', `start.file '${start.file}' is not a binlog file name`);
      if (!Number.isSafeInteger(start.pos) || start.pos < 4) throw new ValidationError('start.pos', 'start.pos must be an integer >= 4');
      return;
    }
  }
  throw new ValidationError('start', "start must be 'current', 'earliest', {gtid} or {file, pos}");
}

/** PEM text as given, or the contents of the file it names (config files name files, API bodies may inline PEM). */
async function pemOrFile(value: string, field: string): Promise<string> {
  if (value.includes('-----BEGIN')) return value;
  try {
    return await readFile(value, 'utf8');
  } catch (err) {
    throw new ValidationError(field, `${field} is neither PEM text nor a readable file: ${(err as Error).message}`);
  }
}

/** Sleeps `ms`, or less when `signal` aborts. Never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

interface RunState {
  args: SyncerArgs;
  uuid: string;
  abort: AbortController;
  loop: Promise<void>;
  conn: UpstreamConnection | null;
  /** After a locate connection: where to start (until something is stored). */
  located: { file: string; pos: bigint } | null;
  startIgnoredLogged: boolean;
}

export class Syncer implements SyncerControl {
  private readonly store: SyncerStore;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly identity: SyncerIdentity;
  private readonly tuning: Required<Omit<SyncerTuning, 'backoff'>> & { backoff: BackoffOptions };

  private run: RunState | null = null;
  private state: SyncerState = 'stopped';
  private lastArgs: SyncerArgs | null = null;
  private lastUuid: string | null = null;
  private session: Session | null = null;
  private lastError: SyncerStatus['last_error'] = null;
  private counters: SyncerCounters = emptyCounters();
  private currentGtid: MysqlGtid | MariadbGtid | null = null;
  private lastEventTimestamp: number | null = null;
  private caughtUp = false;
  /** The part of `counters` already added to the Prometheus metrics (publishMetrics, at each scrape). */
  private published = { events: 0, bytes: 0, transactions: 0 };

  constructor(deps: SyncerDeps) {
    this.store = deps.store;
    this.log = deps.log.child({ component: 'syncer' });
    this.metrics = deps.metrics;
    this.metrics.onCollect(() => this.publishMetrics());
    this.identity = deps.identity ?? {};
    const t = deps.tuning ?? {};
    this.tuning = {
      largeTransactionBytes: t.largeTransactionBytes ?? 32 * 1024 * 1024,
      maxPendingBytes: t.maxPendingBytes ?? 64 * 1024 * 1024,
      defaultHeartbeatMs: t.defaultHeartbeatMs ?? 15_000,
      idleHeartbeats: t.idleHeartbeats ?? 2.5,
      connectTimeoutMs: t.connectTimeoutMs ?? 10_000,
      backoff: t.backoff ?? {},
    };
  }

  // ---- SyncerControl -------------------------------------------------------------------------------------

  async start(args: SyncerArgs): Promise<SyncerStatus> {
    if (this.run !== null) throw new ConflictError('ERR_ALREADY_RUNNING', 'the syncer is already running; stop it first');
    parseHostPort(args.mysql_addr, 'mysql_addr');
    if (!Number.isSafeInteger(args.syncer_id) || args.syncer_id < 1 || args.syncer_id > 0xffffffff) {
      throw new ValidationError('syncer_id', 'syncer_id must be an integer from 1 to 4294967295');
    }
    if (args.syncer_uuid !== undefined && !UUID_RE.test(args.syncer_uuid)) {
      throw new ValidationError('syncer_uuid', `syncer_uuid '${args.syncer_uuid}' is not a UUID`);
    }
    checkStart(args.start);
    await this.connectOptions(args); // PEM files must be readable now: a 400 beats a retry loop
    const uuid = await this.resolveUuid(args);
    if (this.run !== null) throw new ConflictError('ERR_ALREADY_RUNNING', 'the syncer is already running; stop it first');
    this.lastArgs = args;
    this.lastUuid = uuid;
    this.lastError = null;
    this.publishMetrics(); // what the previous run counted, before its counters go
    this.counters = emptyCounters();
    this.published = { events: 0, bytes: 0, transactions: 0 };
    this.session = null;
    this.state = 'connecting';
    const abort = new AbortController();
    const run: RunState = { args, uuid, abort, loop: Promise.resolve(), conn: null, located: null, startIgnoredLogged: false };
    this.run = run;
    run.loop = this.loop(run).catch((err: unknown) => {
      // The loop handles every failure itself; reaching here is a bug, keep it visible.
      this.log.error({ err }, 'syncer loop crashed');
      this.state = 'error';
      this.lastError = { code: 'ERR_INTERNAL', message: err instanceof Error ? err.message : String(err), at: new Date().toISOString(), fatal: true };
    });
    this.log.info({ mysql_addr: args.mysql_addr, mysql_user: args.mysql_user, syncer_id: args.syncer_id, start: args.start ?? null }, 'syncer started');
    return this.status();
  }

  async stop(): Promise<SyncerStatus> {
    const run = this.run;
    if (run === null) return this.status();
    run.abort.abort();
    run.conn?.destroy();
    await run.loop;
    this.run = null;
    this.state = 'stopped';
    this.session = null;
    this.caughtUp = false;
    this.log.info('syncer stopped');
    return this.status();
  }

  status(): SyncerStatus {
    const st = this.store.getState();
    const args = this.lastArgs;
    const s = this.session;
    return {
      status: this.state,
      mysql_addr: args?.mysql_addr ?? null,
      mysql_user: args?.mysql_user ?? null,
      syncer_id: args?.syncer_id ?? null,
      syncer_uuid: this.lastUuid,
      semi_sync: args?.semi_sync ?? false,
      flavor: s?.flavor ?? st.flavor,
      master_server_id: s?.masterServerId ?? null,
      master_server_uuid: s?.masterServerUuid ?? null,
      master_version: s?.version ?? null,
      executed_gtid_set: st.executedGtids,
      purged_gtid_set: st.purgedGtids,
      current_gtid: gtidText(this.currentGtid),
      last_binlog_file: st.lastFile,
      last_file_position: st.lastFile === null ? null : Number(st.lastPos),
      seconds_behind_master: this.secondsBehind(),
      last_error: this.lastError,
      counters: { ...this.counters },
    };
  }

  // ---- the loop ------------------------------------------------------------------------------------------

  private async resolveUuid(args: SyncerArgs): Promise<string> {
    if (args.syncer_uuid !== undefined) return args.syncer_uuid.toLowerCase();
    if (this.identity.serverUuid !== undefined) return this.identity.serverUuid;
    const stored = await this.store.getMeta(UUID_META);
    if (stored !== undefined && UUID_RE.test(stored.toString('utf8'))) return stored.toString('utf8');
    const uuid = randomUUID();
    await this.store.putMeta(UUID_META, uuid);
    return uuid;
  }

  private secondsBehind(): number | null {
    if (this.state !== 'running' || this.session === null) return null;
    if (this.caughtUp) return 0;
    if (this.lastEventTimestamp === null) return null;
    const primaryNow = (Date.now() + this.session.clockOffsetMs) / 1000;
    return Math.max(0, Math.round(primaryNow - this.lastEventTimestamp));
  }

  private startRequest(run: RunState): StartRequest {
    const st = this.store.getState();
    if (st.lastFile !== null) {
      if (run.args.start !== undefined && !run.startIgnoredLogged) {
        run.startIgnoredLogged = true;
        this.log.info({ start: run.args.start, file: st.lastFile, pos: st.lastPos.toString() }, 'storage already holds binlog: resuming from it, not from `start`');
      }
      return { kind: 'resume', file: st.lastFile, pos: st.lastPos, gtids: st.executedGtids === '' ? null : st.executedGtids };
    }
    if (run.located !== null) return { kind: 'position', file: run.located.file, pos: run.located.pos };
    const start = run.args.start ?? 'earliest';
    if (start === 'earliest') return { kind: 'earliest' };
    if (start === 'current') return { kind: 'current' };
    if ('gtid' in start) return { kind: 'gtid', gtids: start.gtid };
    return { kind: 'position', file: start.file, pos: BigInt(start.pos) };
  }

  private async connectOptions(args: SyncerArgs): Promise<UpstreamConnectOptions> {
    const { host, port } = parseHostPort(args.mysql_addr, 'mysql_addr');
    const opts: UpstreamConnectOptions = {
      host,
      port,
      user: args.mysql_user,
      password: args.mysql_password,
      connectTimeoutMs: this.tuning.connectTimeoutMs,
      connectAttributes: [
        ['program_name', 'binlog-proxy'],
        ['_client_role', 'binary_log_listener'],
      ],
    };
    if (args.tls) {
      const t = args.tls;
      opts.tls = { mode: t.mode ?? 'preferred' };
      if (t.verify !== undefined) opts.tls.verify = t.verify;
      if (t.servername !== undefined) opts.tls.servername = t.servername;
      if (t.ca !== undefined) opts.tls.ca = await pemOrFile(t.ca, 'tls.ca');
      if (t.cert !== undefined) opts.tls.cert = await pemOrFile(t.cert, 'tls.cert');
      if (t.key !== undefined) opts.tls.key = await pemOrFile(t.key, 'tls.key');
    }
    if (args.server_public_key) opts.serverPublicKey = await pemOrFile(args.server_public_key, 'server_public_key');
    return opts;
  }

  private async loop(run: RunState): Promise<void> {
    const backoff = new Backoff(this.tuning.backoff);
    const signal = run.abort.signal;
    let attempt = 0;
    while (!signal.aborted) {
      if (attempt++ > 0) {
        this.counters.reconnects++;
        this.metrics.reconnects.inc();
      }
      const startedAt = Date.now();
      const eventsBefore = this.counters.events_received;
      let failure: Classified | null = null;
      let again = false;
      try {
        again = await this.connectOnce(run);
      } catch (err) {
        if (!signal.aborted) failure = this.recordFailure(err);
      } finally {
        run.conn?.destroy();
        run.conn = null;
        this.caughtUp = false;
        this.lastEventTimestamp = null;
      }
      if (signal.aborted) break;
      if (again) {
        attempt = 0;
        continue;
      }
      backoff.connectionEnded(Date.now() - startedAt);
      if (this.counters.events_received > eventsBefore) backoff.progressed();
      // A full disk heals when space is freed, with nobody telling us: look again every few seconds.
      const delay = failure?.code === 'ERR_STORAGE_FULL' ? Math.min(STORAGE_FULL_RETRY_MS, backoff.slow()) : failure?.fatal ? backoff.slow() : backoff.next();
      this.state = failure?.fatal ? 'error' : 'connecting';
      this.log.info({ delayMs: delay, attempt: backoff.attempts }, 'reconnecting to the primary after a delay');
      await sleep(delay, signal);
    }
  }

  private recordFailure(err: unknown): Classified {
    const c = classifyError(err);
    if (c.code === 'ERR_CHECKSUM') this.counters.checksum_errors++;
    this.metrics.errors.inc({ code: c.code });
    this.lastError = { code: c.code, message: c.message, at: new Date().toISOString(), fatal: c.fatal };
    const fields = { code: c.code, errno: c.errno, fatal: c.fatal, err: err instanceof Error ? err.message : String(err) };
    if (c.fatal) this.log.error(fields, 'replication from the primary failed; an operator must fix the cause');
    else this.log.warn(fields, 'connection to the primary lost');
    return c;
  }

  /**
   * One connection: set-up, then either locate (returns true: connect again at once) or stream until the
   * dump ends (throws the reason; a dump never ends normally).
   */
  private async connectOnce(run: RunState): Promise<boolean> {
    const { args } = run;
    this.state = this.lastError?.fatal ? 'error' : 'connecting';
    // A failed write (disk full) left the store refusing writes: reopen it from what is durable first. This
    // throws while the disk is still full, which keeps the status at `error` and retries later.
    if (this.store.recoverWrites) await this.store.recoverWrites();
    const conn = await connectUnlessAborted(await this.connectOptions(args), run.abort.signal, this.log);
    if (conn === null) return false;
    run.conn = conn;
    const st = this.store.getState();
    const heartbeatMs = args.heartbeat_period_ms ?? this.tuning.defaultHeartbeatMs;
    const start = this.startRequest(run);
    const session = await setupSession(conn, {
      serverId: args.syncer_id,
      serverUuid: run.uuid,
      heartbeatPeriodMs: heartbeatMs,
      semiSync: args.semi_sync ?? false,
      start,
      expectFlavor: st.flavor,
      reportHost: (this.identity.reportHost ?? hostname()).slice(0, 60),
      reportPort: this.identity.reportPort ?? 0,
    });
    this.session = session;
    for (const w of session.warnings) this.log.warn({ warning: w }, 'primary session warning');
    this.log.info(
      {
        flavor: session.flavor,
        version: session.version,
        masterServerId: session.masterServerId,
        semiSync: session.semiSync,
        primarySemiSync: session.primarySemiSyncEnabled,
        request: session.plan.request.kind === 'file'
          ? { file: session.plan.request.file, pos: session.plan.request.pos.toString() }
          : { gtids: session.plan.request.gtids },
        start: start.kind,
      },
      'connected to the primary',
    );
    if (st.flavor === null) {
      if (!this.store.setFlavor) {
        throw new UpstreamError('ERR_UPSTREAM_FLAVOR', 'the store has no flavour and cannot be given one; open it with the primary\'s flavour');
      }
      await this.store.setFlavor(session.flavor);
    }
    if (session.plan.mode === 'locate') {
      const at = await this.locate(conn, session, heartbeatMs);
      this.log.info({ file: at.file, pos: at.pos.toString(), gtids: session.plan.request.gtids }, 'located the start of the requested GTIDs');
      run.located = at;
      return true;
    }
    await this.stream(run, conn, session, heartbeatMs);
    return false;
  }

  private idleLimitMs(heartbeatMs: number): number {
    return heartbeatMs > 0 ? Math.max(1000, Math.round(heartbeatMs * this.tuning.idleHeartbeats)) : 0;
  }

  private locate(conn: UpstreamConnection, session: Session, heartbeatMs: number): Promise<{ file: string; pos: bigint }> {
    return new Promise((resolve, reject) => {
      let found: { file: string; pos: bigint } | null = null;
      const idle = new IdleTimer(this.idleLimitMs(heartbeatMs), () =>
        conn.destroy(new UpstreamError('ERR_UPSTREAM_TIMEOUT', `no packet from the primary for ${this.idleLimitMs(heartbeatMs)} ms`)),
      );
      const pipeline = new StreamPipeline({
        flavor: session.flavor,
        semiSync: session.semiSync,
        fakeRotateChecksumAlg: session.checksumAlg,
        target: null,
        sink: {
          unit: () => undefined,
          largeBegin: () => undefined,
          largeEvent: () => undefined,
          largeEnd: () => undefined,
          ack: () => undefined,
          heartbeat: () => undefined,
          notice: () => undefined,
          located: (file, pos) => {
            found = { file, pos };
          },
        },
      });
      conn.startStream(
        session.plan.command,
        (payload) => {
          idle.touch();
          if (found !== null) return;
          pipeline.push(payload);
          if (found !== null) {
            idle.stop();
            resolve(found);
            conn.destroy();
          }
        },
        (err) => {
          idle.stop();
          if (found !== null) return;
          try {
            pipeline.flush();
          } catch (checksumErr) {
            reject(checksumErr as Error);
            return;
          }
          reject(err ?? new UpstreamError('ERR_UPSTREAM_CLOSED', 'the primary ended the dump before the start position was found'));
        },
      );
    });
  }

  private async stream(run: RunState, conn: UpstreamConnection, session: Session, heartbeatMs: number): Promise<void> {
    const plan = session.plan;
    if (plan.mode !== 'stream') throw new Error('stream() needs a stream plan');
    const high = this.tuning.maxPendingBytes;
    let paused = false;
    let writerError: Error | null = null;
    const writer = new StoreWriter(
      this.store,
      {
        sendAck: (file, pos) => {
          if (!conn.closed) conn.writePacket(encodeSemiSyncAck({ position: pos, fileName: file }), 0);
        },
        heartbeat: (file, pos) => {
          this.counters.heartbeats_received++;
          this.healthy();
          const mine = pipeline.position;
          this.caughtUp = !pipeline.inTransaction && mine.file === file && mine.pos >= pos && writer.pendingBytes === 0;
          if (mine.file === file) this.metrics.upstreamLagBytes.set(Number(pos > mine.pos ? pos - mine.pos : 0n));
          this.metrics.upstreamLagSeconds.set(this.secondsBehind() ?? 0);
        },
        located: () => undefined,
        notice: (message, data) => this.log.warn(data ?? {}, message),
        stored: (info: StoredInfo) => this.onStored(info),
        onFailure: (err) => {
          writerError = err;
          conn.destroy(err);
        },
        onDrain: () => {
          if (paused) {
            paused = false;
            idle.resume();
            conn.resumeStream();
          }
        },
      },
      { lowWaterBytes: Math.floor(high / 4) },
    );
    const pipeline = new StreamPipeline({
      flavor: session.flavor,
      semiSync: session.semiSync,
      fakeRotateChecksumAlg: session.checksumAlg,
      target: plan.target,
      largeTransactionBytes: this.tuning.largeTransactionBytes,
      // Units are handed over per socket read (flush below): one CRC call for the events of a read.
      holdUnits: true,
      sink: writer,
    });
    const idleMs = this.idleLimitMs(heartbeatMs);
    const idle = new IdleTimer(idleMs, () =>
      conn.destroy(new UpstreamError('ERR_UPSTREAM_TIMEOUT', `no packet from the primary for ${idleMs} ms (heartbeat period ${heartbeatMs} ms)`)),
    );
    const backpressure = (): void => {
      if (!paused && writer.pendingBytes > high) {
        paused = true;
        // Not reading is our choice, not the primary's silence: the idle timeout waits.
        idle.pause();
        conn.pauseStream();
        this.log.debug({ pendingBytes: writer.pendingBytes }, 'storage is behind: paused reading from the primary');
      }
    };
    let streamError: Error | null = null;
    try {
      await new Promise<void>((resolve) => {
        /** Counts a packet of `bytes` (the payload, with its 0x00 or semi-sync header). */
        const received = (bytes: number): void => {
          idle.touch();
          if (this.state !== 'running') {
            this.state = 'running';
            if (this.lastError !== null && !this.lastError.fatal) this.lastError = null;
          }
          // The Prometheus counters get these at the next scrape (publishMetrics).
          this.counters.events_received++;
          this.counters.bytes_received += bytes;
        };
        conn.startStream(
          plan.command,
          (payload) => {
            received(payload.length);
            const needAck = pipeline.push(payload);
            if (needAck) conn.expectSequenceAfterAck();
            backpressure();
          },
          (err) => {
            streamError = err ?? new UpstreamError('ERR_UPSTREAM_CLOSED', 'the primary ended the binlog dump');
            try {
              // A corrupted event just before the end is what to report (its checksum may be pending).
              pipeline.flush();
            } catch (checksumErr) {
              streamError = checksumErr as Error;
            }
            resolve();
          },
          {
            onBatchEnd: () => {
              pipeline.flush();
              backpressure();
            },
            // Without semi-sync every event packet is 0x00 + the event: the connection hands the event over
            // as one view (pushEvent) instead of the payload and a view of it. With semi-sync, push() reads
            // the header.
            onEvent: session.semiSync
              ? undefined
              : (event) => {
                  received(event.length + 1);
                  pipeline.pushEvent(event);
                  backpressure();
                },
          },
        );
      });
    } finally {
      idle.stop();
      const { abortedBytes } = await writer.close();
      if (pipeline.inTransaction || abortedBytes > 0) {
        this.log.info(
          { file: pipeline.position.file, streamedBytes: abortedBytes },
          'the connection ended inside a transaction; its events were dropped and will be received again',
        );
      }
    }
    if (run.abort.signal.aborted) {
      try {
        await this.store.flush();
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'flushing storage after stop failed');
      }
      return;
    }
    throw writerError ?? streamError ?? new UpstreamError('ERR_UPSTREAM_CLOSED', 'the binlog dump ended');
  }

  private onStored(info: StoredInfo): void {
    if (info.kind === 'transaction') {
      this.counters.transactions_stored++;
      // Formatted when the status is read, not for every stored transaction.
      if (info.gtid !== null) this.currentGtid = info.gtid;
    }
    if (info.timestamp > 0) this.lastEventTimestamp = info.timestamp;
    this.caughtUp = false;
    this.healthy();
  }

  /** Adds what the counters grew by since the last scrape to the Prometheus metrics; the lag as of now. */
  private publishMetrics(): void {
    const c = this.counters;
    const p = this.published;
    if (c.events_received > p.events) this.metrics.eventsReceived.inc(c.events_received - p.events);
    if (c.bytes_received > p.bytes) this.metrics.bytesReceived.inc(c.bytes_received - p.bytes);
    if (c.transactions_stored > p.transactions) this.metrics.transactionsStored.inc(c.transactions_stored - p.transactions);
    p.events = c.events_received;
    p.bytes = c.bytes_received;
    p.transactions = c.transactions_stored;
    if (this.state === 'running') this.metrics.upstreamLagSeconds.set(this.secondsBehind() ?? 0);
  }

  /** The dump delivers (a heartbeat or a stored unit): an error left from earlier attempts is over. */
  private healthy(): void {
    if (this.lastError !== null) this.lastError = null;
    this.state = 'running';
  }
}

/** Connects, unless `signal` aborts first (then a connection that still completes is closed at once). */
async function connectUnlessAborted(
  opts: UpstreamConnectOptions,
  signal: AbortSignal,
  log: Logger,
): Promise<UpstreamConnection | null> {
  if (signal.aborted) return null;
  const connecting = UpstreamConnection.connect(opts);
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<null>((resolve) => {
    onAbort = () => resolve(null);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const conn = await Promise.race([connecting, aborted]);
    if (conn === null) {
      connecting.then(
        (c) => c.destroy(),
        (err: unknown) => log.debug({ err: err instanceof Error ? err.message : String(err) }, 'connection attempt ended after stop'),
      );
    }
    return conn;
  } finally {
    if (onAbort !== null) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Calls `onIdle` when `touch()` was not called for `ms` (0 disables it), except while paused; it fires between
 * `ms` and 1.25 × `ms` after the last touch. `touch()` runs for every event, so it only sets a flag: the timer
 * ticks every quarter period and counts the quiet ticks (no clock read per event).
 */
class IdleTimer {
  private static readonly TICKS = 4;
  private timer: NodeJS.Timeout | null = null;
  private touched = false;
  private quietTicks = 0;
  private paused = false;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    if (ms > 0) this.arm();
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      if (this.touched || this.paused) {
        this.touched = false;
        this.quietTicks = 0;
      } else if (++this.quietTicks >= IdleTimer.TICKS) {
        this.timer = null;
        this.onIdle();
        return;
      }
      this.arm();
    }, Math.max(1, Math.ceil(this.ms / IdleTimer.TICKS)));
    this.timer.unref();
  }

  touch(): void {
    this.touched = true;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.touched = true;
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
