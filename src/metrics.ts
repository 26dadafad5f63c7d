/**
 * Prometheus metrics on a registry owned by the daemon (never prom-client's global one), handed to each
 * component. Labels never carry secrets; replica labels are server ids and addresses only.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  private readonly collectHooks = new Set<() => void>();
  /** Runs the hooks before the metrics that hot paths count in plain fields are read. */
  private readonly collect = (): void => {
    for (const h of this.collectHooks) h();
  };

  readonly eventsReceived = new Counter({ name: 'binlog_proxy_events_received_total', help: 'Binlog events received from the primary', registers: [this.registry], collect: this.collect });
  readonly bytesReceived = new Counter({ name: 'binlog_proxy_bytes_received_total', help: 'Binlog event bytes received from the primary', registers: [this.registry], collect: this.collect });
  readonly transactionsStored = new Counter({ name: 'binlog_proxy_transactions_stored_total', help: 'Transactions appended to storage', registers: [this.registry], collect: this.collect });
  readonly eventsSent = new Counter({ name: 'binlog_proxy_events_sent_total', help: 'Binlog events sent to replicas and clients', registers: [this.registry] });
  readonly bytesSent = new Counter({ name: 'binlog_proxy_bytes_sent_total', help: 'Binlog event bytes sent to replicas and clients', registers: [this.registry] });
  readonly upstreamLagSeconds = new Gauge({ name: 'binlog_proxy_upstream_lag_seconds', help: 'Seconds between the primary clock and the newest stored event', registers: [this.registry], collect: this.collect });
  readonly upstreamLagBytes = new Gauge({ name: 'binlog_proxy_upstream_lag_bytes', help: 'Bytes the primary has written beyond what is stored (from heartbeats)', registers: [this.registry] });
  readonly replicaLagSeconds = new Gauge({ name: 'binlog_proxy_replica_lag_seconds', help: 'Per replica: seconds between the newest stored event and the last event sent', labelNames: ['server_id', 'address'] as const, registers: [this.registry] });
  readonly connectedReplicas = new Gauge({ name: 'binlog_proxy_connected_replicas', help: 'Replicas and binlog clients currently dumping', registers: [this.registry] });
  readonly reconnects = new Counter({ name: 'binlog_proxy_upstream_reconnects_total', help: 'Reconnections to the primary', registers: [this.registry] });
  readonly errors = new Counter({ name: 'binlog_proxy_errors_total', help: 'Errors by stable code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly storageGroupWriteSeconds = new Histogram({
    name: 'binlog_proxy_storage_group_write_seconds',
    help: 'Duration of the synced storage writes that durable commits wait for (LevelDB queue and fsync)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly storageSizeBytes = new Gauge({ name: 'binlog_proxy_storage_size_bytes', help: 'Approximate size of the stored binlog', registers: [this.registry] });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'binlog_proxy_' });
  }

  /**
   * Registers `fn` to run whenever the registry reads the upstream counters and lag (a scrape): components
   * that count per event or per transaction keep plain fields and add them to the metrics there, instead of a
   * prom-client call (label hashing) per event. Returns the unregister function.
   */
  onCollect(fn: () => void): () => void {
    this.collectHooks.add(fn);
    return () => this.collectHooks.delete(fn);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
