/**
 * The daemon: opens the store and wires syncer, replica-facing server, discovery, metrics and the admin API.
 * `main.ts` builds the config and the logger and calls `startDaemon`; tests can call it in-process too.
 *
 * Lifecycle
 *   start: open storage → restore what the API started (persisted intents win over the config file) →
 *          admin API listens → retention timer
 *   stop:  admin stops accepting → replica server closes → syncer stops (its open transaction is dropped,
 *          everything complete is flushed) → discovery → storage closed
 *
 * Cluster mode (config `cluster` section; see src/cluster/): the syncer is driven by the cluster, not by
 * the state file or the config's `syncer` section. The syncer intent lives in etcd; only the leader pulls
 * from the primary, every other node pulls from the leader's replica-facing port (cluster/runtime.ts);
 * admin requests for /binlog/syncer/* on a follower are forwarded to the leader; discovery's instance store
 * is shared through etcd. Start: storage → replica server (so the advertised port answers) → admin API →
 * join the cluster. Stop: admin → leave the cluster (step down, syncer stopped, lease revoked) → the rest.
 */
import { randomUUID, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openStore, type BinlogStore } from '../storage/index.js';
import { collectableBytes, GC_EVERY_RELEASED_BYTES, GcScheduler, IdleCollector, memoryReport, type CollectGarbage } from './memory.js';
import type { Config, ServerArgs, SyncerArgs } from './config/config.js';
import { parseHostPort } from './config/config.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { StateFiles } from './state.js';
import { Syncer, type SyncerIdentity } from './syncer/syncer.js';
import { hostname } from 'node:os';
import { ReplicationServer } from './server/server.js';
import type { SyncerControl, SyncerStatus } from './syncer/types.js';
import type { ServerControl, ServerStatus } from './server/types.js';
import { buildAdminApp, loadAdminTls } from './admin/app.js';
import { GtidWaiter } from './gtid-wait.js';
import type { LogFileSummary, LogsControl, PurgeResult } from './admin/logs-routes.js';
import { ConflictError } from './errors.js';
import { DiscoveryService, KvInstanceStore, discoveryRoutes } from './discovery/index.js';
import { SectionKvRange } from './discovery/kv-section.js';
import type { EtcdCoordinator } from './cluster/coordinator.js';
import { coordinatorOptionsFromConfig, etcdTlsFiles, memberFromConfig } from './cluster/from-config.js';
import { clusterAdminPlugin } from './cluster/forward.js';
import { ClusterNode } from './cluster/node.js';
import { positionCampaignGate } from './cluster/position.js';
import { ClusterRuntime, FencedStore } from './cluster/runtime.js';

export interface Daemon {
  readonly admin: FastifyInstance;
  readonly adminAddress: { host: string; port: number };
  readonly store: BinlogStore;
  readonly syncer: SyncerControl;
  readonly server: ServerControl;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

interface Identity {
  serverId: number;
  serverUuid: string;
}

/** Our own server_id/server_uuid as a source, generated once and kept in the store. */
async function loadIdentity(store: BinlogStore, config: Config): Promise<Identity> {
  const raw = await store.getMeta('daemon.identity');
  let id: Identity | null = raw ? (JSON.parse(raw.toString('utf8')) as Identity) : null;
  if (!id) {
    const serverUuid = config.serverSettings.server_uuid ?? randomUUID();
    // A stable id derived from the uuid, away from the small ids people give their servers.
    const serverId = config.serverSettings.server_id ?? (createHash('sha256').update(serverUuid).digest().readUInt32BE(0) % 2_000_000_000) + 100_000_000;
    id = { serverId, serverUuid };
    await store.putMeta('daemon.identity', JSON.stringify(id));
  }
  if (config.serverSettings.server_id !== undefined) id.serverId = config.serverSettings.server_id;
  if (config.serverSettings.server_uuid !== undefined) id.serverUuid = config.serverSettings.server_uuid;
  return id;
}

interface Control<A, S> {
  start(args: A): Promise<S>;
  stop(): Promise<S>;
  status(): S;
}

/**
 * A syncer or server control that persists what the API asks for (state/<name>.json), so a restart resumes it,
 * and restores it at boot: the persisted intent wins; without one, the config file's section is started.
 */
class PersistentControl<A, S> implements Control<A, S> {
  /** The arguments of the last start (persisted with running: false on stop). */
  private lastArgs: A | null = null;

  constructor(
    private readonly name: 'syncer' | 'server',
    private readonly inner: Control<A, S>,
    private readonly state: StateFiles,
    /** Runs after every successful start, from the API or at boot. */
    private readonly onStarted: (args: A) => void,
  ) {}

  async start(args: A): Promise<S> {
    const status = await this.startInner(args);
    await this.state.write<A>(this.name, { running: true, args });
    return status;
  }

  async stop(): Promise<S> {
    const status = await this.inner.stop();
    await this.state.write<A>(this.name, { running: false, args: this.lastArgs });
    return status;
  }

  status(): S {
    return this.inner.status();
  }

  /** Boot: starts what was persisted as running, else `fallback` (the config file's section) when nothing was. */
  async restore(fallback: A | null, log: Logger): Promise<void> {
    const intent = await this.state.read<A>(this.name);
    this.lastArgs = intent?.args ?? null;
    const args = intent ? (intent.running ? intent.args : null) : fallback;
    if (!args) return;
    try {
      await this.startInner(args);
      log.info({ source: intent ? 'state' : 'config' }, `${this.name} resumed`);
    } catch (err) {
      log.error({ err }, `${this.name} could not be started at boot`);
    }
  }

  private async startInner(args: A): Promise<S> {
    const status = await this.inner.start(args);
    this.lastArgs = args;
    this.onStarted(args);
    return status;
  }
}

/** GET /binlog/logs and POST /binlog/purge over the store. */
class StoreLogs implements LogsControl {
  constructor(private readonly store: BinlogStore) {}

  async list(): Promise<LogFileSummary[]> {
    return this.store.listFiles().map((f) => ({
      name: f.name,
      first_position: Number(f.firstPos),
      end_position: Number(f.endPos),
      size: Number(f.storedBytes),
      events: null,
      first_timestamp: f.firstTimestamp ? new Date(f.firstTimestamp * 1000).toISOString() : null,
      last_timestamp: f.lastTimestamp ? new Date(f.lastTimestamp * 1000).toISOString() : null,
      start_gtids: f.gtidsAtStart || null,
      gtids: f.gtidsAtEnd ?? this.store.getState().executedGtids,
      active: f.active,
    }));
  }

  async purge(req: { toFile?: string; before?: Date }): Promise<PurgeResult> {
    const r = await this.store.purge({
      beforeFile: req.toFile,
      beforeTime: req.before ? Math.floor(req.before.getTime() / 1000) : undefined,
    });
    const files = this.store.listFiles();
    return {
      purged_files: r.files,
      first_file: files[0]?.name ?? null,
      purged_gtid_set: r.purgedGtids,
      kept_for_replicas: r.heldBack,
    };
  }
}

/** How often the idle collector looks at the heap (memory.ts). */
const IDLE_GC_CHECK_MS = 1000;

export interface DaemonOptions {
  version: string;
  /** V8's gc (node --expose-gc): then buffers the store lets go of are collected sooner (see memory.ts). */
  gc?: CollectGarbage;
}

export async function startDaemon(config: Config, log: Logger, opts: DaemonOptions): Promise<Daemon> {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const state = new StateFiles(config.dataDir);
  await state.init();
  const metrics = new Metrics();
  const store = await openStore(join(config.dataDir, 'binlog'), {
    durability: config.storage.durability,
    groupCommitDelayMs: config.storage.groupCommitDelayMs,
    serveBeforeSync: config.storage.serveBeforeSync,
    leveldb: { compression: config.storage.compression },
    readCacheBytes: config.storage.readCacheBytes,
    ...(opts.gc !== undefined ? { onReadCacheEvict: new GcScheduler(opts.gc, GC_EVERY_RELEASED_BYTES).released } : {}),
    onGroupWrite: (seconds) => metrics.storageGroupWriteSeconds.observe(seconds),
  });
  const identity = await loadIdentity(store, config);
  log.info({ dataDir: config.dataDir, serverId: identity.serverId, serverUuid: identity.serverUuid, version: opts.version }, 'storage open');

  // What the syncer reports to the primary in COM_REGISTER_SLAVE (SHOW SLAVE HOSTS): our replica-facing
  // address, so that topology tools see primary -> proxy -> replicas. Filled in when the server starts; the
  // syncer reads it at each connect.
  const reportAs: SyncerIdentity = {};
  const cluster = config.cluster !== null ? await buildCluster(config, store, identity, log, metrics, reportAs) : null;
  const syncer = cluster?.leaderSyncer ?? new Syncer({ store, log, metrics, identity: reportAs });
  let syncerArgsForPassthrough: SyncerArgs | null = null;
  const server = new ReplicationServer({
    store,
    dataDir: config.dataDir,
    identity,
    settings: {
      tls: config.serverSettings.tls ?? undefined,
      passthrough: config.serverSettings.passthrough ?? false,
    },
    syncerStatus: () => (cluster ? cluster.runtime.activeStatus() : syncer.status()),
    passthroughTarget: () => {
      const a = syncerArgsForPassthrough;
      if (!a) return null;
      const { host, port } = parseHostPort(a.mysql_addr, 'mysql_addr');
      return { host, port, user: a.mysql_user, password: a.mysql_password };
    },
    log,
    metrics,
  });

  const syncerControl = new PersistentControl<SyncerArgs, SyncerStatus>('syncer', syncer, state, (args) => {
    syncerArgsForPassthrough = args;
  });
  const serverControl = new PersistentControl<ServerArgs, ServerStatus>('server', server, state, (args) => {
    serverArgsNow = args;
    noteServerAddress(reportAs, args.addr, server.port);
  });
  let serverArgsNow: ServerArgs | null = null;
  cluster?.setServerArgs(() => serverArgsNow);
  if (cluster) cluster.onLeaderStart((args) => (syncerArgsForPassthrough = args));

  const discovery = new DiscoveryService({
    store: await KvInstanceStore.open(cluster ? cluster.coordinator.sharedKv('discovery') : new SectionKvRange(store.section('discovery'))),
    logger: log.child({ component: 'discovery' }),
    settings: config.discovery,
  });

  const waiter = new GtidWaiter(store);
  const admin = buildAdminApp({
    syncer: cluster ? cluster.node.syncerControl() : syncerControl,
    server: serverControl,
    wait: waiter,
    logs: new StoreLogs(store),
    debug: { canCollect: opts.gc !== undefined, memory: (collect) => memoryReport(collect ? (opts.gc ?? null) : null) },
    metrics: async () => {
      const files = store.listFiles();
      metrics.storageSizeBytes.set(files.reduce((n, f) => n + Number(f.storedBytes), 0));
      return metrics.exposition();
    },
    healthy: () => !closing,
    token: config.admin.token,
    https: config.admin.tls ? await loadAdminTls(config.admin.tls) : null,
    logger: log.child({ component: 'admin' }),
    plugins: [
      async (app) => {
        await app.register(discoveryRoutes, { discovery, token: config.admin.token });
      },
    ],
  });

  if (cluster) await admin.register(clusterAdminPlugin, { coordinator: cluster.coordinator });

  let closing = false;
  // Restore: what the API persisted wins; otherwise the config file's sections. In cluster mode the syncer
  // intent is the cluster's (etcd), applied by the leader once elected.
  if (cluster && config.syncer) log.warn('cluster mode: the config file\'s syncer section is ignored; start the syncer through the admin API');
  if (!cluster) await syncerControl.restore(config.syncer, log);
  await serverControl.restore(config.server, log);

  const { host, port } = parseHostPort(config.admin.listen, 'admin.listen');
  await admin.listen({ host, port });
  const addr = admin.server.address();
  const adminAddress = typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port };
  log.info({ admin: `${adminAddress.host}:${adminAddress.port}` }, 'admin API listening');
  if (cluster) {
    try {
      await cluster.node.start();
    } catch (err) {
      await admin.close();
      await server.stop();
      await discovery.close();
      await store.close();
      throw err;
    }
  }

  let retentionTimer: NodeJS.Timeout | null = null;
  const { maxAgeMs, maxSizeBytes, checkIntervalMs } = config.retention;
  if (maxAgeMs !== null || maxSizeBytes !== null) {
    const runRetention = async (): Promise<void> => {
      try {
        const r = await store.purge({
          maxAge: maxAgeMs !== null ? Math.floor(maxAgeMs / 1000) : undefined,
          maxSize: maxSizeBytes ?? undefined,
        });
        if (r.files.length > 0) log.info({ files: r.files, purgedGtids: r.purgedGtids }, 'retention purged binlog files');
      } catch (err) {
        log.error({ err }, 'retention purge failed');
      }
    };
    retentionTimer = setInterval(() => void runRetention(), checkIntervalMs);
    retentionTimer.unref();
  }

  // With --expose-gc: the garbage of a burst (an ingest, replicas catching up) is collected once things go quiet.
  let idleGcTimer: NodeJS.Timeout | null = null;
  if (opts.gc !== undefined) {
    const idle = new IdleCollector(opts.gc, collectableBytes);
    idleGcTimer = setInterval(() => idle.tick(), IDLE_GC_CHECK_MS);
    idleGcTimer.unref();
  }

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      closing = true;
      if (retentionTimer) clearInterval(retentionTimer);
      if (idleGcTimer) clearInterval(idleGcTimer);
      waiter.close();
      await admin.close();
      if (cluster) {
        await discovery.close(); // its store is in etcd, which the node's departure disconnects
        await cluster.node.stop();
        await cluster.runtime.stop();
      }
      await server.stop();
      await syncer.stop();
      if (!cluster) await discovery.close();
      await store.close();
      log.info('stopped');
    })();
    return stopping;
  };

  return { admin, adminAddress, store, syncer: cluster ? cluster.node.syncerControl() : syncerControl, server: serverControl, metrics, stop };
}

interface ClusterParts {
  coordinator: EtcdCoordinator;
  node: ClusterNode;
  runtime: ClusterRuntime;
  leaderSyncer: Syncer;
  setServerArgs(get: () => ServerArgs | null): void;
  onLeaderStart(cb: (args: SyncerArgs) => void): void;
}

/** The cluster layer over this daemon's store: coordinator on etcd, the node, and its runtime. */
/** report_host/report_port for COM_REGISTER_SLAVE from the replica server's listen address. */
function noteServerAddress(reportAs: SyncerIdentity, addr: string, boundPort: number | null | undefined): void {
  const { host, port } = parseHostPort(addr, 'addr');
  reportAs.reportHost = host === '0.0.0.0' || host === '::' ? hostname() : host;
  reportAs.reportPort = boundPort ?? port;
}

async function buildCluster(config: Config, store: BinlogStore, identity: Identity, log: Logger, metrics: Metrics, reportAs: SyncerIdentity): Promise<ClusterParts> {
  // Loaded only in cluster mode: the etcd client (gRPC, protobufjs) costs a daemon without a cluster ~30 MB of RSS
  // and ~0.3 s of start-up.
  const { EtcdCoordinator } = await import('./cluster/coordinator.js');
  const clusterConfig = config.cluster!;
  const self = memberFromConfig(config);
  const fenced = new FencedStore(store);
  const leaderSyncer = new Syncer({ store: fenced, log, metrics, identity: reportAs });
  // Following: short backoffs (a 1236 while the new leader catches up must not park us for 30 s).
  const followerSyncer = new Syncer({
    store: fenced,
    log: log.child({ role: 'follower' }),
    metrics,
    tuning: { connectTimeoutMs: 3000, backoff: { capMs: 2000 } },
  });
  let serverArgs: () => ServerArgs | null = () => null;
  let leaderStart: ((args: SyncerArgs) => void) | null = null;
  const runtime = new ClusterRuntime({
    store: fenced,
    leaderSyncer,
    followerSyncer,
    identity,
    replicationCredentials: () => clusterConfig.replicationUser ?? serverArgs()?.users[0] ?? config.server?.users[0] ?? null,
    onLeaderStart: (args) => leaderStart?.(args),
    logger: log,
  });
  const coordinator: EtcdCoordinator = new EtcdCoordinator({
    ...coordinatorOptionsFromConfig(config, { logger: log, credentials: etcdTlsFiles(config, (p) => readFileSync(p)) ?? undefined }),
    campaignGate: () => gate(),
  });
  const gate = positionCampaignGate({ coordinator, self, position: () => runtime.position(), logger: log.child({ component: 'cluster' }) });
  const node = new ClusterNode({ coordinator, self, callbacks: runtime, logger: log });
  return {
    coordinator,
    node,
    runtime,
    leaderSyncer,
    setServerArgs: (get) => (serverArgs = get),
    onLeaderStart: (cb) => (leaderStart = cb),
  };
}

export { ConflictError };
