/**
 * ReplicationServer: the replica-facing MySQL-protocol server that the admin API starts and stops
 * (ServerControl). It owns the listener, the key material (TLS certificate, caching_sha2 RSA keys), the
 * accounts, the authentication throttle and the registry of sessions; each connection is a Session.
 * The binlog itself is streamed by the dump sender (`runDump`), injected by the composition root.
 */
import { hostname as osHostname } from 'node:os';
import type { Socket } from 'node:net';
import type { ServerArgs } from '../config/config.js';
import { parseHostPort } from '../config/config.js';
import { BinlogProxyError, ConflictError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { SyncerStatus } from '../syncer/types.js';
import { UserRegistry } from './auth.js';
import { runDump, type DumpStore } from './dump/index.js';
import type { DumpContext, Flavor, SourceIdentity } from './dump/types.js';
import { ServerError } from './errors.js';
import { faceFor, type Face } from './flavor.js';
import { Listener } from './listener.js';
import type { PassthroughTarget } from './passthrough.js';
import { ReplicaRegistry } from './registry.js';
import { DEFAULT_LIMITS, Session, type SessionEnv, type SessionLimits } from './session.js';
import { StaticSourceView, type SourceView } from './source.js';
import { StoreSourceView } from './source-store.js';
import { AuthThrottle, type AuthThrottleOptions } from './throttle.js';
import { loadRsaKeys, loadTlsMaterial, type RsaKeys, type TlsConfig, type TlsMaterial } from './tls.js';
import type { ServerControl, ServerStatus } from './types.js';
import type { ServerFacts, StatusFacts } from './variables.js';

export interface ReplicationServerSettings {
  /** Certificate and key (PEM text or paths); absent: self-signed in <dataDir>/tls/; false: no TLS at all. */
  tls?: TlsConfig | false | null;
  /** Forward read-only statements we do not answer to the primary (needs `passthroughTarget`). */
  passthrough?: boolean;
  /** Offer semi-sync to replicas (rpl_semi_sync_*_enabled = ON). Default true. */
  semiSync?: boolean;
  /** Flavour to greet with while the store is empty and the syncer knows none. Default 'mariadb'. */
  defaultFlavor?: Flavor;
  limits?: Partial<SessionLimits>;
  authThrottle?: Partial<AuthThrottleOptions>;
  /** caching_sha2_password accounts that always take full authentication (true: all). */
  forceFullAuth?: boolean | string[];
  /** The openssl command used to make the self-signed certificate. */
  openssl?: string;
  /** @@hostname (default: the machine's). */
  hostname?: string;
}

export interface ReplicationServerDeps {
  /** The binlog store; the SQL answers and the dump read it. */
  store?: DumpStore | null;
  /** Overrides the view built over `store` (tests). */
  source?: SourceView;
  dataDir: string;
  identity: SourceIdentity;
  settings?: ReplicationServerSettings;
  syncerStatus?: () => SyncerStatus | null;
  /** The primary and the credentials passthrough uses (the syncer's). */
  passthroughTarget?: () => PassthroughTarget | null;
  /** Streams one dump; default: the binlog sender of src/server/dump over `store`. */
  runDump?: (ctx: DumpContext) => Promise<void>;
  log: Logger;
  metrics?: Metrics | null;
}

const EMPTY_SOURCE = new StaticSourceView({ flavor: null });

function compileMachine(): string {
  switch (process.arch) {
    case 'x64':
      return 'x86_64';
    case 'arm64':
      return 'aarch64';
    default:
      return process.arch;
  }
}

function systemTimeZone(): string {
  const offset = new Date().getTimezoneOffset();
  if (offset === 0) return 'UTC';
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'SYSTEM';
}

export class ReplicationServer implements ServerControl {
  private readonly log: Logger;
  private readonly source: SourceView;
  private readonly registry = new ReplicaRegistry();
  private readonly sessions = new Set<Promise<void>>();
  private readonly limits: SessionLimits;
  private listener: Listener | null = null;
  private throttle: AuthThrottle;
  private tls: TlsMaterial | null = null;
  private rsa: RsaKeys | null = null;
  private args: ServerArgs | null = null;
  private state: 'running' | 'stopped' | 'error' = 'stopped';
  private transition: Promise<unknown> | null = null;
  private lastError: ServerStatus['last_error'] = null;
  private startedAt = 0;
  private nextConnectionId = 0;
  private lagTimer: NodeJS.Timeout | null = null;
  private env: SessionEnv | null = null;

  constructor(private readonly deps: ReplicationServerDeps) {
    if (!Number.isInteger(deps.identity.serverId) || deps.identity.serverId < 1 || deps.identity.serverId > 0xffffffff) {
      throw new ServerError('ERR_INVALID_INPUT', `server_id must be an integer from 1 to 4294967295, got ${deps.identity.serverId}`);
    }
    this.log = deps.log.child({ component: 'server' });
    this.source = deps.source ?? (deps.store ? new StoreSourceView(deps.store) : EMPTY_SOURCE);
    this.limits = { ...DEFAULT_LIMITS, ...deps.settings?.limits };
    this.throttle = new AuthThrottle(deps.settings?.authThrottle);
  }

  /** What the sessions of this run share (accounts and keys are fixed per start). */
  private makeEnv(users: UserRegistry): SessionEnv {
    const deps = this.deps;
    const settings = deps.settings ?? {};
    const semiSync = settings.semiSync ?? true;
    const host = settings.hostname ?? osHostname();
    return {
      identity: deps.identity,
      source: this.source,
      users,
      throttle: this.throttle,
      registry: this.registry,
      tls: this.tls,
      rsa: this.rsa,
      limits: this.limits,
      semiSync,
      passthrough: settings.passthrough && deps.passthroughTarget ? deps.passthroughTarget : null,
      face: () => this.face(),
      facts: (face: Face): ServerFacts => ({
        flavor: face.flavor,
        version: face.version,
        identity: deps.identity,
        source: this.source,
        hostname: host,
        port: this.listener?.address?.port ?? 0,
        semiSync,
        tls: this.tls !== null,
        maxAllowedPacket: this.limits.maxPacketAfterAuth,
        waitTimeout: this.limits.waitTimeoutSec,
        systemTimeZone: systemTimeZone(),
        compileOs: process.platform === 'linux' ? 'Linux' : process.platform,
        compileMachine: compileMachine(),
      }),
      statusFacts: (flavor: Flavor): StatusFacts => this.statusFacts(flavor),
      syncerStatus: () => deps.syncerStatus?.() ?? null,
      runDump: this.dumper(),
      metrics: deps.metrics ?? null,
      connectionCount: () => this.registry.size,
    };
  }

  private dumper(): (ctx: DumpContext) => Promise<void> {
    if (this.deps.runDump) return this.deps.runDump;
    const store = this.deps.store;
    if (store) return (ctx) => runDump(ctx, store);
    return async (ctx) => ctx.output.sendError(1236, 'HY000', 'Binary log is not open');
  }

  /** The flavour and versions a new connection is greeted with. */
  face(): Face {
    const syncer = this.deps.syncerStatus?.() ?? null;
    const flavor = this.source.flavor() ?? syncer?.flavor ?? this.deps.settings?.defaultFlavor ?? 'mariadb';
    let version = this.source.serverVersion();
    if (version === null && syncer?.flavor === flavor) version = syncer.master_version;
    return faceFor(flavor, version);
  }

  private statusFacts(flavor: Flavor): StatusFacts {
    return {
      flavor,
      uptimeSeconds: this.startedAt ? Math.floor((Date.now() - this.startedAt) / 1000) : 0,
      threadsConnected: this.registry.size,
      dumpingReplicas: this.registry.dumpCount(),
      semiSyncClients: this.registry.semiSyncCount(),
      semiSync: this.deps.settings?.semiSync ?? true,
    };
  }

  /** The bound address (host:port), or null when stopped. */
  get address(): string | null {
    return this.listener?.addressText ?? null;
  }

  get port(): number | null {
    return this.listener?.address?.port ?? null;
  }

  async start(args: ServerArgs): Promise<ServerStatus> {
    if (this.state === 'running' || this.transition) {
      throw new ConflictError('ERR_ALREADY_RUNNING', `the replica server is already running${this.address ? ` on ${this.address}` : ''}`);
    }
    const starting = this.doStart(args);
    this.transition = starting;
    try {
      await starting;
    } finally {
      this.transition = null;
    }
    return this.status();
  }

  private async doStart(args: ServerArgs): Promise<void> {
    const settings = this.deps.settings ?? {};
    try {
      const { host, port } = parseHostPort(args.addr, 'addr');
      const users = new UserRegistry(args.users, {
        allowEmptyPassword: args.allow_empty_password ?? false,
        forceFullAuth: settings.forceFullAuth ?? false,
      });
      await this.loadKeys(settings);
      this.env = this.makeEnv(users);
      const listener = new Listener(
        (socket) => this.accept(socket),
        (err) => {
          this.lastError = { code: 'ERR_LISTEN', message: err.message, at: new Date().toISOString() };
          this.log.error({ err }, 'listener error');
        },
      );
      await listener.listen(host, port);
      this.listener = listener;
      this.args = args;
      this.state = 'running';
      this.startedAt = Date.now();
      this.lastError = null;
      this.lagTimer = setInterval(() => this.updateLagMetrics(), 5000);
      this.lagTimer.unref();
      this.log.info(
        { addr: listener.addressText, users: users.names(), tls: this.tls?.origin ?? 'off', flavor: this.face().flavor },
        'replica server listening',
      );
    } catch (err) {
      const code = err instanceof BinlogProxyError ? err.code : 'ERR_INTERNAL';
      this.lastError = { code, message: (err as Error).message, at: new Date().toISOString() };
      this.state = 'error';
      this.log.error({ err }, 'replica server failed to start');
      throw err;
    }
  }

  private async loadKeys(settings: ReplicationServerSettings): Promise<void> {
    this.tls = null;
    if (settings.tls !== false) {
      try {
        this.tls = await loadTlsMaterial({ config: settings.tls ?? null, dataDir: this.deps.dataDir, openssl: settings.openssl });
        this.log.info({ origin: this.tls.origin, path: this.tls.certPath, sha256: this.tls.fingerprint256 }, 'TLS certificate loaded');
      } catch (err) {
        const configured = settings.tls && (settings.tls.cert || settings.tls.key);
        if (configured || !(err instanceof ServerError)) throw err;
        // No certificate could be made: serve without TLS and say why (MariaDB 11.4+ replicas then need
        // MASTER_SSL=0 or a configured certificate).
        this.log.warn({ err: err.message }, 'running without TLS');
      }
    }
    try {
      this.rsa = await loadRsaKeys(this.deps.dataDir);
    } catch (err) {
      if (!(err instanceof ServerError)) throw err;
      this.rsa = null;
      this.log.warn({ err: err.message }, 'no RSA key pair: caching_sha2_password full authentication needs TLS');
    }
  }

  private accept(socket: Socket): void {
    const env = this.env;
    if (this.state !== 'running' || !env) {
      socket.destroy();
      return;
    }
    const id = ++this.nextConnectionId;
    const session = new Session(socket, id, env, this.deps.log.child({ component: 'session' }));
    this.registry.add(session);
    const running: Promise<void> = session.run().finally(() => {
      this.registry.remove(id);
      this.sessions.delete(running);
    });
    this.sessions.add(running);
  }

  async stop(): Promise<ServerStatus> {
    if (this.transition) await this.transition.catch(() => undefined);
    const listener = this.listener;
    this.listener = null;
    if (this.lagTimer) clearInterval(this.lagTimer);
    this.lagTimer = null;
    if (!listener && this.state !== 'running') {
      if (this.state === 'error') this.state = 'stopped';
      return this.status();
    }
    const stopping = (async () => {
      const closing = listener ? listener.close() : Promise.resolve();
      for (const h of this.registry.handles()) h.close('server_stopped');
      const all = Promise.all([...this.sessions]);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, 5000)))]);
      clearTimeout(timer);
      await closing;
    })();
    this.transition = stopping;
    try {
      await stopping;
    } finally {
      this.transition = null;
    }
    this.state = 'stopped';
    this.args = null;
    this.log.info('replica server stopped');
    return this.status();
  }

  status(): ServerStatus {
    const running = this.state === 'running';
    const newest = this.source.newestEventTimestamp();
    return {
      status: this.state,
      addr: this.address,
      user: this.args?.users[0]?.user ?? null,
      users: this.args?.users.map((u) => u.user) ?? [],
      flavor: running ? this.face().flavor : this.source.flavor(),
      server_id: this.deps.identity.serverId,
      server_uuid: this.deps.identity.serverUuid,
      slaves: this.registry.replicaInfos(newest),
      connections: this.registry.size,
      last_error: this.lastError,
    };
  }

  private updateLagMetrics(): void {
    const m = this.deps.metrics;
    if (!m) return;
    m.replicaLagSeconds.reset();
    for (const r of this.registry.replicaInfos(this.source.newestEventTimestamp())) {
      if (r.lag_seconds === null) continue;
      m.replicaLagSeconds.set({ server_id: String(r.server_id ?? 0), address: r.remote_address }, r.lag_seconds);
    }
  }
}
