/**
 * DiscoveryService: orchestrator's discovery flow for the daemon.
 *   discover(host, port): validate -> resolve the canonical key -> probe (through the queue) -> record it
 *   (first seen / last checked / last seen) -> follow its source and replicas breadth-first in the background.
 *   discoverAsync: the same, all in the background (the API answers 202 at once).
 * Everything is injected (store, logger, SQL connector, resolver, clock), so tests run it without servers.
 */
import { isIP } from 'node:net';
import { DiscoveryError, redactSecrets } from './errors.js';
import { withErrantGtid, DEFAULT_LAG_THRESHOLD_SECONDS } from './interpret.js';
import { formatKey, parseHost, parseInstanceKey, parseKeyString, resolveKey, sameKey, systemHostResolver, type HostResolver } from './key.js';
import { probeInstance } from './probe.js';
import { KeyedQueue } from './queue.js';
import { mysql2Connector, type SqlConnector } from './sql.js';
import type { InstanceStore } from './store.js';
import { buildClusterGraph, walkTopology, type WalkResult } from './topology.js';
import type { ClusterGraph, Instance, InstanceKey, Problem, ProbedInstance, ReplicaRef } from './types.js';

/** A pino-compatible logger (pino's Logger satisfies it). */
export interface DiscoveryLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): DiscoveryLogger;
}

/** The config's `discovery` section (Config['discovery'] fits), plus optional tuning. */
export interface DiscoverySettings {
  user: string | null;
  password: string | null;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  maxDepth: number;
  maxInstances: number;
  /** Whole-probe limit; default connectTimeoutMs + 2 * queryTimeoutMs. */
  probeTimeoutMs?: number;
  /** Probes running at once; default 4. */
  concurrency?: number;
  /** Default 10 (orchestrator's ReasonableReplicationLagSeconds). */
  lagThresholdSeconds?: number;
}

export interface DiscoveryDeps {
  store: InstanceStore;
  logger: DiscoveryLogger;
  settings: DiscoverySettings;
  connector?: SqlConnector;
  resolver?: HostResolver;
  now?: () => Date;
}

export class DiscoveryService {
  private readonly store: InstanceStore;
  private readonly log: DiscoveryLogger;
  private readonly settings: DiscoverySettings;
  private readonly connector: SqlConnector;
  private readonly resolver: HostResolver;
  private readonly now: () => Date;
  private readonly queue: KeyedQueue;
  private readonly background = new Set<Promise<void>>();
  private readonly backgroundIds = new Set<string>();
  private closed = false;

  constructor(deps: DiscoveryDeps) {
    this.store = deps.store;
    this.log = deps.logger.child({ component: 'discovery' });
    this.settings = deps.settings;
    this.connector = deps.connector ?? mysql2Connector;
    this.resolver = deps.resolver ?? systemHostResolver();
    this.now = deps.now ?? (() => new Date());
    this.queue = new KeyedQueue(deps.settings.concurrency ?? 4);
  }

  /** Probes host:port now, records it and starts following its source and replicas; resolves with the instance. */
  async discover(host: string, port: string | number): Promise<Instance> {
    const key = parseInstanceKey(host, port);
    this.checkUsable();
    const canonical = await resolveKey(key, this.resolver);
    const instance = await this.probeAndRecord(canonical);
    this.inBackground(`walk ${formatKey(canonical)}`, async () => {
      await this.walk(instance);
    });
    return instance;
  }

  /** Validates host:port and queues its discovery (probe + walk); returns the key at once. */
  discoverAsync(host: string, port: string | number): InstanceKey {
    const key = parseInstanceKey(host, port);
    this.checkUsable();
    this.inBackground(`discover ${formatKey(key)}`, async () => {
      const canonical = await resolveKey(key, this.resolver);
      const instance = await this.probeAndRecord(canonical);
      await this.walk(instance);
    });
    return key;
  }

  /** The stored instance (no probe). ERR_DISCOVERY_NOT_FOUND when it was never discovered. */
  async getInstance(host: string, port: string | number): Promise<Instance> {
    const key = parseInstanceKey(host, port);
    const canonical = await this.resolveQuietly(key);
    const inst = (await this.store.get(canonical)) ?? (await this.store.get(key));
    if (inst === undefined) throw new DiscoveryError('ERR_DISCOVERY_NOT_FOUND', `instance not found: ${formatKey(key)}`);
    return inst;
  }

  async listInstances(): Promise<Instance[]> {
    return this.store.list();
  }

  /**
   * The topology graph of the cluster `hint` belongs to. Hint: `host:port` of any member (the cluster name
   * is its primary's `host:port`), or a bare host when one stored instance has it.
   */
  async cluster(hint: string): Promise<ClusterGraph> {
    const all = await this.store.list();
    const text = hint.trim();
    let start: InstanceKey;
    if (isIP(text.replace(/^\[(.*)\]$/, '$1')) !== 0 || !text.includes(':')) {
      const host = parseHost(text);
      const canonical = await this.resolveQuietly({ host, port: 0 });
      const matches = all.filter((i) => i.key.host === canonical.host || i.key.host === host);
      if (matches.length === 0) throw new DiscoveryError('ERR_DISCOVERY_NOT_FOUND', `no discovered instance on host ${host}`);
      if (matches.length > 1) {
        throw new DiscoveryError(
          'ERR_DISCOVERY_BAD_REQUEST',
          `cluster hint ${JSON.stringify(text)} matches ${matches.length} instances; give host:port`,
        );
      }
      start = matches[0]!.key;
    } else {
      start = await this.resolveQuietly(parseKeyString(text));
    }
    const graph = buildClusterGraph(all, start);
    if (graph === null) throw new DiscoveryError('ERR_DISCOVERY_NOT_FOUND', `cluster not found for ${JSON.stringify(text)}`);
    return graph;
  }

  /**
   * Follows `start`'s source and replicas breadth-first, probing and recording each instance once, within
   * settings.maxDepth hops and settings.maxInstances instances. Then refreshes the errant-GTID verdicts of
   * the visited replicas against their (now recorded) sources.
   */
  async walk(start: ProbedInstance): Promise<WalkResult> {
    const result = await walkTopology(start, (key) => this.probeAndRecord(key), {
      maxDepth: this.settings.maxDepth,
      maxInstances: this.settings.maxInstances,
    });
    for (const key of result.visited) await this.refreshErrant(key);
    this.log.debug(
      { start: formatKey(start.key), visited: result.visited.length, failed: result.failed.length, truncated: result.truncated },
      'topology walk finished',
    );
    return result;
  }

  /** Resolves when no discovery is queued, running or walking. */
  async idle(): Promise<void> {
    while (this.background.size > 0 || this.queue.size > 0) {
      await Promise.allSettled([...this.background]);
      await this.queue.onIdle();
    }
  }

  /** Refuses new work and waits for the running work to finish. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  // -------------------------------------------------------------------------------------------------------

  private checkUsable(): void {
    if (this.closed) throw new DiscoveryError('ERR_DISCOVERY_CLOSED', 'discovery is shutting down');
    if (this.settings.user === null || this.settings.user === '') {
      throw new DiscoveryError(
        'ERR_DISCOVERY_NOT_CONFIGURED',
        'discovery credentials are not configured (config discovery.user / BINLOG_PROXY_DISCOVERY_USER)',
      );
    }
  }

  /** Runs `task` detached (errors are logged); a task with the same id that is still running is not repeated. */
  private inBackground(what: string, task: () => Promise<void>): void {
    if (this.backgroundIds.has(what)) return;
    this.backgroundIds.add(what);
    const p = task().catch((err: unknown) => {
      const code = err instanceof DiscoveryError ? err.code : 'ERR_INTERNAL';
      this.log.warn({ key: what, code, err: this.clean(err) }, 'background discovery failed');
    });
    this.background.add(p);
    void p.finally(() => {
      this.background.delete(p);
      this.backgroundIds.delete(what);
    });
  }

  private clean(err: unknown): string {
    const text = err instanceof Error ? err.message : String(err);
    return redactSecrets(text, [this.settings.password]);
  }

  private async resolveQuietly(key: InstanceKey): Promise<InstanceKey> {
    try {
      return await resolveKey(key, this.resolver);
    } catch (err) {
      if (err instanceof DiscoveryError) return key;
      throw err;
    }
  }

  /** Probes `key` (canonical) once at a time through the queue and records the outcome. */
  private probeAndRecord(key: InstanceKey): Promise<Instance> {
    return this.queue.run(formatKey(key), async () => {
      if (this.closed) throw new DiscoveryError('ERR_DISCOVERY_CLOSED', 'discovery is shutting down');
      let probed: ProbedInstance;
      try {
        probed = await probeInstance(key, {
          user: this.settings.user ?? '',
          password: this.settings.password ?? '',
          connectTimeoutMs: this.settings.connectTimeoutMs,
          queryTimeoutMs: this.settings.queryTimeoutMs,
          probeTimeoutMs: this.settings.probeTimeoutMs ?? this.settings.connectTimeoutMs + 2 * this.settings.queryTimeoutMs,
          lagThresholdSeconds: this.settings.lagThresholdSeconds ?? DEFAULT_LAG_THRESHOLD_SECONDS,
          connector: this.connector,
        });
      } catch (err) {
        await this.recordFailure(key, err);
        throw err;
      }
      const canonical = await this.canonicalise(probed);
      const source = canonical.master_key === null ? undefined : await this.store.get(canonical.master_key);
      const instance = await this.recordSuccess(withErrantGtid(canonical, source ?? null));
      this.log.info({ key: formatKey(key), role: instance.role, problems: instance.problems }, 'instance discovered');
      return instance;
    });
  }

  /** Source and replica addresses as canonical keys (unresolvable names stay as given, with a note). */
  private async canonicalise(p: ProbedInstance): Promise<ProbedInstance> {
    const notes = [...p.notes];
    const resolve = async (k: InstanceKey): Promise<InstanceKey> => {
      try {
        return await resolveKey(k, this.resolver);
      } catch (err) {
        if (!(err instanceof DiscoveryError)) throw err;
        notes.push(`cannot resolve ${formatKey(k)}: ${err.message}`);
        return k;
      }
    };
    const channels = await Promise.all(p.replication_channels.map(async (c) => ({ ...c, master_key: await resolve(c.master_key) })));
    const replication = p.replication === null ? null : (channels.find((c) => c.channel === p.replication!.channel) ?? null);
    const replicas: ReplicaRef[] = [];
    for (const r of p.replicas) {
      const k = await resolve(r);
      if (sameKey(k, p.key) || replicas.some((o) => sameKey(o, k))) continue;
      replicas.push({ host: k.host, port: k.port, server_id: r.server_id });
    }
    return {
      ...p,
      master_key: replication?.master_key ?? null,
      replication,
      replication_channels: channels,
      replicas,
      notes,
    };
  }

  private async recordSuccess(probed: ProbedInstance): Promise<Instance> {
    const prev = await this.store.get(probed.key);
    const now = this.now().toISOString();
    const instance: Instance = {
      ...probed,
      first_seen_at: prev?.first_seen_at ?? now,
      last_checked_at: now,
      last_seen_at: now,
      last_check_valid: true,
      last_error: null,
    };
    await this.store.put(instance);
    return instance;
  }

  /** A failed check of a known instance is recorded on it; unknown addresses leave no trace. */
  private async recordFailure(key: InstanceKey, err: unknown): Promise<void> {
    const message = this.clean(err);
    const code = err instanceof DiscoveryError ? err.code : 'ERR_INTERNAL';
    this.log.warn({ key: formatKey(key), code, err: message }, 'instance probe failed');
    const prev = await this.store.get(key);
    if (prev === undefined) return;
    const problems: Problem[] = prev.problems.includes('last_check_invalid') ? prev.problems : [...prev.problems, 'last_check_invalid'];
    await this.store.put({ ...prev, last_checked_at: this.now().toISOString(), last_check_valid: false, last_error: message, problems });
  }

  private async refreshErrant(key: InstanceKey): Promise<void> {
    const inst = await this.store.get(key);
    if (inst === undefined || inst.master_key === null) return;
    const source = await this.store.get(inst.master_key);
    if (source === undefined) return;
    const updated = withErrantGtid(inst, source);
    if (updated.gtid_errant !== inst.gtid_errant || updated.problems.length !== inst.problems.length) await this.store.put(updated);
  }
}
