/**
 * Who is connected: every live session (for KILL and the thread count), the replicas that sent
 * COM_REGISTER_SLAVE (SHOW SLAVE HOSTS / SHOW REPLICAS), and the running dumps (server status, metrics).
 *
 * Duplicate replicas (§3.7): when a dump starts, older dumps with the same identity are aborted, as the
 * primaries' kill_zombie_dump_threads does —
 *   MySQL:   same @replica_uuid/@slave_uuid when the new replica set one, else same non-zero server_id;
 *            the old client gets ERR 1236 "A replica with the same server_uuid/server_id ...".
 *   MariaDB: same non-zero server_id; the old connection is closed without a message.
 */
import type { ReplicaInfo } from './types.js';
import type { DumpProgress, DumpRequest, Flavor } from './dump/types.js';

export type DumpAbortReason = 'closed' | 'killed_connection' | 'killed_query' | 'replaced' | 'server_stopped';

/** What the registry can do to a session. */
export interface SessionHandle {
  readonly connectionId: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly user: string;
  readonly connectTime: Date;
  /** The default database (COM_INIT_DB / USE), for SHOW PROCESSLIST. */
  readonly database: string | null;
  /** False until the client logged in. */
  readonly isAuthenticated: boolean;
  /** Aborts the running dump (no-op when not dumping). */
  abortDump(reason: DumpAbortReason): void;
  /** Closes the connection (KILL CONNECTION, server stop). */
  close(reason: DumpAbortReason): void;
}

export interface RegisteredSlave {
  serverId: number;
  host: string;
  port: number;
  rank: number;
  /** The source's id as the replica reported it (we answer with our own id in SHOW SLAVE HOSTS). */
  masterId: number;
}

export interface ProcessRow {
  id: number;
  user: string;
  host: string;
  db: string | null;
  command: string;
  time: number;
  state: string;
  info: string | null;
}

export interface DumpEntry {
  flavor: Flavor;
  request: DumpRequest;
  serverId: number;
  replicaUuid: string | null;
  semiSync: boolean;
  /** MariaDB: the dump is a GTID connect (@slave_connect_state was set). */
  gtidConnect: boolean;
  startedAt: Date;
  progress: DumpProgress;
}

interface SessionEntry {
  handle: SessionHandle;
  registered: RegisteredSlave | null;
  /** Order of registration, for a stable SHOW SLAVE HOSTS. */
  registeredAt: number;
  dump: DumpEntry | null;
}

export class ReplicaRegistry {
  private readonly sessions = new Map<number, SessionEntry>();
  private registrations = 0;

  add(handle: SessionHandle): void {
    this.sessions.set(handle.connectionId, { handle, registered: null, registeredAt: 0, dump: null });
  }

  remove(connectionId: number): void {
    this.sessions.delete(connectionId);
  }

  get size(): number {
    return this.sessions.size;
  }

  handles(): SessionHandle[] {
    return [...this.sessions.values()].map((e) => e.handle);
  }

  /** COM_REGISTER_SLAVE: one entry per connection (a new registration replaces the connection's old one). */
  register(connectionId: number, slave: RegisteredSlave): void {
    const e = this.sessions.get(connectionId);
    if (!e) return;
    e.registered = slave;
    e.registeredAt = ++this.registrations;
  }

  /**
   * Records a dump starting on `connectionId` and aborts the older dumps with the same identity. Returns
   * the connection ids that were replaced.
   */
  startDump(connectionId: number, dump: DumpEntry): number[] {
    const e = this.sessions.get(connectionId);
    if (!e) return [];
    const replaced: number[] = [];
    for (const other of this.sessions.values()) {
      if (other === e || !other.dump) continue;
      if (sameReplica(dump, other.dump)) {
        replaced.push(other.handle.connectionId);
        other.handle.abortDump('replaced');
      }
    }
    e.dump = dump;
    return replaced;
  }

  endDump(connectionId: number): void {
    const e = this.sessions.get(connectionId);
    if (e) e.dump = null;
  }

  /** KILL [CONNECTION|QUERY] id: false when there is no such connection. */
  kill(connectionId: number, what: 'connection' | 'query'): boolean {
    const e = this.sessions.get(connectionId);
    if (!e) return false;
    if (what === 'connection') e.handle.close('killed_connection');
    else e.handle.abortDump('killed_query');
    return true;
  }

  /** SHOW SLAVE HOSTS rows: registered replicas that are still connected, in registration order. */
  registeredSlaves(): Array<RegisteredSlave & { replicaUuid: string | null }> {
    return [...this.sessions.values()]
      .filter((e) => e.registered !== null)
      .sort((a, b) => a.registeredAt - b.registeredAt)
      .map((e) => ({ ...e.registered!, replicaUuid: e.dump?.replicaUuid ?? null }));
  }

  /** SHOW PROCESSLIST rows, as MySQL/MariaDB show their connection threads. */
  processList(selfId: number, now = Date.now()): ProcessRow[] {
    const rows: ProcessRow[] = [];
    for (const e of this.sessions.values()) {
      const h = e.handle;
      const self = h.connectionId === selfId;
      const since = e.dump ? e.dump.startedAt : h.connectTime;
      rows.push({
        id: h.connectionId,
        user: h.isAuthenticated ? h.user : 'unauthenticated user',
        host: `${h.remoteAddress}:${h.remotePort}`,
        db: h.database,
        command: e.dump ? (e.dump.request.command === 'COM_BINLOG_DUMP_GTID' ? 'Binlog Dump GTID' : 'Binlog Dump') : self ? 'Query' : h.isAuthenticated ? 'Sleep' : 'Connect',
        time: Math.max(0, Math.floor((now - since.getTime()) / 1000)),
        state: e.dump ? (e.dump.flavor === 'mysql' ? 'Source has sent all binlog to replica; waiting for more updates' : 'Master has sent all binlog to slave; waiting for more updates') : self ? 'starting' : '',
        info: self ? 'SHOW PROCESSLIST' : null,
      });
    }
    return rows.sort((a, b) => a.id - b.id);
  }

  dumpCount(): number {
    let n = 0;
    for (const e of this.sessions.values()) if (e.dump) n++;
    return n;
  }

  semiSyncCount(): number {
    let n = 0;
    for (const e of this.sessions.values()) if (e.dump?.semiSync) n++;
    return n;
  }

  /** GET /binlog/server/status `slaves`: every session that registered or is dumping. */
  replicaInfos(newestEventTimestamp: number | null): ReplicaInfo[] {
    const out: ReplicaInfo[] = [];
    for (const e of this.sessions.values()) {
      if (!e.registered && !e.dump) continue;
      const p = e.dump?.progress ?? null;
      let lag: number | null = null;
      if (p && newestEventTimestamp !== null && p.lastEventTimestamp !== null) {
        lag = Math.max(0, newestEventTimestamp - p.lastEventTimestamp);
      }
      out.push({
        connection_id: e.handle.connectionId,
        server_id: e.registered?.serverId ?? e.dump?.serverId ?? null,
        server_uuid: e.dump?.replicaUuid ?? null,
        host_name: e.registered?.host || e.handle.remoteAddress,
        port: e.registered?.port || e.handle.remotePort,
        user: e.handle.user,
        remote_address: e.handle.remoteAddress,
        connect_time: e.handle.connectTime.toISOString(),
        kind: e.registered ? 'replica' : 'binlog_client',
        mode: e.dump ? (e.dump.request.command === 'COM_BINLOG_DUMP_GTID' || isMariadbGtidDump(e.dump) ? 'gtid' : 'file') : null,
        file: p?.file ?? null,
        position: p?.position ?? null,
        gtid: p?.gtid ?? null,
        bytes_sent: p?.bytesSent ?? 0,
        events_sent: p?.eventsSent ?? 0,
        lag_seconds: lag,
        semi_sync: e.dump?.semiSync ?? false,
      });
    }
    return out.sort((a, b) => a.connection_id - b.connection_id);
  }
}

function isMariadbGtidDump(d: DumpEntry): boolean {
  return d.flavor === 'mariadb' && d.request.command === 'COM_BINLOG_DUMP' && d.gtidConnect;
}

/** The replacement rule of the flavour of the new dump. */
export function sameReplica(newer: DumpEntry, older: DumpEntry): boolean {
  if (newer.flavor === 'mysql') {
    if (newer.replicaUuid) return older.replicaUuid !== null && older.replicaUuid.toLowerCase() === newer.replicaUuid.toLowerCase();
    return newer.serverId !== 0 && older.serverId === newer.serverId;
  }
  return newer.serverId !== 0 && older.serverId === newer.serverId;
}
