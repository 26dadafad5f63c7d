/**
 * The typed configuration: embedded defaults < YAML file < environment < command-line flags.
 * `resolveConfig` is pure (argv, env and a file reader are passed in); `src/main.ts` supplies the real ones.
 */
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { configFileSchema } from './schema.js';
import { ValidationError, validate } from './validate.js';

export type StartPosition = 'current' | 'earliest' | { gtid: string } | { file: string; pos: number };

export interface UpstreamTlsConfig {
  mode?: 'disabled' | 'preferred' | 'required';
  verify?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/** Arguments of the syncer (PUT /binlog/syncer/start body, kingbus names). */
export interface SyncerArgs {
  mysql_addr: string;
  mysql_user: string;
  mysql_password: string;
  syncer_id: number;
  syncer_uuid?: string;
  semi_sync?: boolean;
  start?: StartPosition;
  heartbeat_period_ms?: number;
  tls?: UpstreamTlsConfig;
  server_public_key?: string;
}

export interface ServerUser {
  user: string;
  password: string;
}

/** Arguments of the replica-facing server (PUT /binlog/server/start, normalised). */
export interface ServerArgs {
  addr: string;
  users: ServerUser[];
  allow_empty_password?: boolean;
}

export interface ServerSettings {
  server_id?: number;
  server_uuid?: string;
  tls?: { cert?: string; key?: string; ca?: string };
  passthrough?: boolean;
}

export interface Config {
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  admin: { listen: string; token: string | null; tls: { cert: string; key: string } | null };
  /** Started at boot when present (persisted API state wins). */
  server: ServerArgs | null;
  serverSettings: ServerSettings;
  syncer: SyncerArgs | null;
  discovery: {
    user: string | null;
    password: string | null;
    connectTimeoutMs: number;
    queryTimeoutMs: number;
    maxDepth: number;
    maxInstances: number;
  };
  retention: { maxAgeMs: number | null; maxSizeBytes: number | null; checkIntervalMs: number };
  storage: { durability: 'group' | 'fsync'; groupCommitDelayMs: number; serveBeforeSync: boolean; compression: boolean; readCacheBytes: number };
  cluster: {
    name: string;
    etcd: string[];
    advertiseAdmin: string | null;
    advertiseServer: string | null;
    leaseTtlMs: number;
    prefix: string;
    /** Seals the syncer password stored in etcd (AES-GCM); the same on every node. Env BINLOG_PROXY_CLUSTER_SECRET. */
    secret: string | null;
    /**
     * The account followers log in with on the leader's replica-facing port. Null: the first user of the
     * node's own replica server (every node of a cluster is configured with the same server users).
     */
    replicationUser: ServerUser | null;
    /** etcd authentication (password also from BINLOG_PROXY_CLUSTER_ETCD_PASSWORD). */
    etcdAuth: { username: string; password: string } | null;
    /** TLS to etcd: PEM file paths (CA of etcd's certificate; client certificate and key for mutual TLS). */
    etcdTls: { ca: string; cert?: string; key?: string } | null;
  } | null;
  /** Where the file came from, for logs. */
  configFile: string | null;
}

export const DEFAULTS = {
  dataDir: './data',
  adminListen: '127.0.0.1:9595',
  logLevel: 'info',
} as const;

export interface CliRequest {
  command: 'run' | 'import' | 'help' | 'version';
  config: Config;
  /** `import` positional files. */
  files: string[];
}

export const HELP = `binlog-proxy — a binlog server for MySQL and MariaDB

Usage:
  binlog-proxy [options]                     run the daemon
  binlog-proxy import --data-dir DIR FILE... seed the store from binlog files
  binlog-proxy --help | --version

Options (flag / environment / default):
  --config FILE             BINLOG_PROXY_CONFIG        none     YAML config file
  --data-dir DIR            BINLOG_PROXY_DATA_DIR      ./data   LevelDB log and state
  --admin-listen HOST:PORT  BINLOG_PROXY_ADMIN_LISTEN  127.0.0.1:9595
  --admin-token TOKEN       BINLOG_PROXY_ADMIN_TOKEN   none     require Authorization: Bearer TOKEN
  --log-level LEVEL         BINLOG_PROXY_LOG_LEVEL     info     fatal|error|warn|info|debug|trace|silent
  --help, --version

Discovery credentials may also come from BINLOG_PROXY_DISCOVERY_USER / BINLOG_PROXY_DISCOVERY_PASSWORD.
Cluster mode (config section "cluster"): the cluster secret may come from BINLOG_PROXY_CLUSTER_SECRET and the
followers' replication password from BINLOG_PROXY_CLUSTER_REPLICATION_PASSWORD, the etcd password from
BINLOG_PROXY_CLUSTER_ETCD_PASSWORD.
`;

export interface ResolveInput {
  argv: string[];
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
}

/** Parses argv/env/file into a validated Config. Throws ValidationError naming the key on bad input. */
export function resolveConfig(input: ResolveInput): CliRequest {
  let parsed;
  try {
    parsed = parseArgs({
      args: input.argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        'admin-listen': { type: 'string' },
        'admin-token': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new ValidationError('argv', `${(err as Error).message} (see --help)`);
  }
  const { values, positionals } = parsed;
  let command: CliRequest['command'] = 'run';
  let files: string[] = [];
  if (values.help) command = 'help';
  else if (values.version) command = 'version';
  else if (positionals[0] === 'import') {
    command = 'import';
    files = positionals.slice(1);
    if (files.length === 0) throw new ValidationError('argv', 'import needs at least one binlog FILE (see --help)');
  } else if (positionals.length > 0) {
    throw new ValidationError('argv', `unknown command '${positionals[0]}' (see --help)`);
  }

  const configFile = values.config ?? input.env.BINLOG_PROXY_CONFIG ?? null;
  let file: Record<string, unknown> = {};
  if (configFile) {
    let text: string;
    try {
      text = input.readFile(configFile);
    } catch (err) {
      throw new ValidationError('config', `cannot read config file ${configFile}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new ValidationError('config', `config file ${configFile} is not valid YAML: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) doc = {};
    file = validate<Record<string, unknown>>(configFileSchema, doc);
  }

  const f = file as FileShape;
  const dataDir = values['data-dir'] ?? input.env.BINLOG_PROXY_DATA_DIR ?? f.dataDir ?? DEFAULTS.dataDir;
  const adminListen = values['admin-listen'] ?? input.env.BINLOG_PROXY_ADMIN_LISTEN ?? f.admin?.listen ?? DEFAULTS.adminListen;
  const adminToken = values['admin-token'] ?? input.env.BINLOG_PROXY_ADMIN_TOKEN ?? f.admin?.token ?? null;
  const logLevel = values['log-level'] ?? input.env.BINLOG_PROXY_LOG_LEVEL ?? f.logLevel ?? DEFAULTS.logLevel;

  // Re-validate the values that came from flags/env with the same schema.
  validate(configFileSchema, {
    dataDir,
    logLevel,
    admin: { listen: adminListen, token: adminToken },
  });

  const config: Config = {
    dataDir,
    logLevel: logLevel as Config['logLevel'],
    admin: { listen: adminListen, token: adminToken, tls: f.admin?.tls ?? null },
    server: f.server
      ? { addr: f.server.listen, users: f.server.users ?? [], allow_empty_password: f.server.allow_empty_password ?? false }
      : null,
    serverSettings: {
      server_id: f.server?.server_id,
      server_uuid: f.server?.server_uuid,
      tls: f.server?.tls,
      passthrough: f.server?.passthrough,
    },
    syncer: f.syncer ?? null,
    discovery: {
      user: input.env.BINLOG_PROXY_DISCOVERY_USER ?? f.discovery?.user ?? null,
      password: input.env.BINLOG_PROXY_DISCOVERY_PASSWORD ?? f.discovery?.password ?? null,
      connectTimeoutMs: parseDuration(f.discovery?.connectTimeout ?? '3s', 'discovery.connectTimeout'),
      queryTimeoutMs: parseDuration(f.discovery?.queryTimeout ?? '5s', 'discovery.queryTimeout'),
      maxDepth: f.discovery?.maxDepth ?? 10,
      maxInstances: f.discovery?.maxInstances ?? 1000,
    },
    retention: {
      maxAgeMs: f.retention?.maxAge ? parseDuration(f.retention.maxAge, 'retention.maxAge') : null,
      maxSizeBytes: f.retention?.maxSize ? parseSize(f.retention.maxSize, 'retention.maxSize') : null,
      checkIntervalMs: parseDuration(f.retention?.checkInterval ?? '1m', 'retention.checkInterval'),
    },
    storage: {
      durability: f.storage?.durability ?? 'group',
      groupCommitDelayMs: parseDuration(f.storage?.groupCommitDelay ?? '0ms', 'storage.groupCommitDelay'),
      serveBeforeSync: f.storage?.serveBeforeSync ?? false,
      compression: f.storage?.compression ?? false,
      readCacheBytes: parseSize(String(f.storage?.readCache ?? '16MiB'), 'storage.readCache'),
    },
    cluster: f.cluster
      ? {
          name: f.cluster.name,
          etcd: f.cluster.etcd,
          advertiseAdmin: f.cluster.advertise_admin ?? null,
          advertiseServer: f.cluster.advertise_server ?? null,
          leaseTtlMs: parseDuration(f.cluster.lease_ttl ?? '5s', 'cluster.lease_ttl'),
          prefix: f.cluster.prefix ?? '/binlog-proxy/',
          secret: input.env.BINLOG_PROXY_CLUSTER_SECRET ?? f.cluster.secret ?? null,
          replicationUser: f.cluster.replication_user
            ? {
                user: f.cluster.replication_user,
                password: input.env.BINLOG_PROXY_CLUSTER_REPLICATION_PASSWORD ?? f.cluster.replication_password ?? '',
              }
            : null,
          etcdAuth: f.cluster.etcd_user
            ? { username: f.cluster.etcd_user, password: input.env.BINLOG_PROXY_CLUSTER_ETCD_PASSWORD ?? f.cluster.etcd_password ?? '' }
            : null,
          etcdTls: f.cluster.etcd_tls ?? null,
        }
      : null,
    configFile,
  };
  return { command, config, files };
}

interface FileShape {
  dataDir?: string;
  logLevel?: string;
  admin?: { listen?: string; token?: string | null; tls?: { cert: string; key: string } };
  server?: {
    listen: string;
    users?: ServerUser[];
    allow_empty_password?: boolean;
    server_id?: number;
    server_uuid?: string;
    tls?: { cert?: string; key?: string; ca?: string };
    passthrough?: boolean;
  };
  syncer?: SyncerArgs;
  discovery?: { user?: string; password?: string; connectTimeout?: string; queryTimeout?: string; maxDepth?: number; maxInstances?: number };
  retention?: { maxAge?: string | null; maxSize?: string | null; checkInterval?: string };
  storage?: { durability?: 'group' | 'fsync'; groupCommitDelay?: string; serveBeforeSync?: boolean; compression?: boolean; readCache?: string | number };
  cluster?: {
    name: string;
    etcd: string[];
    advertise_admin?: string;
    advertise_server?: string;
    lease_ttl?: string;
    prefix?: string;
    secret?: string;
    replication_user?: string;
    replication_password?: string;
    etcd_user?: string;
    etcd_password?: string;
    etcd_tls?: { ca: string; cert?: string; key?: string };
  };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** '500ms', '30s', '7d' → milliseconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d|w)$/.exec(text.trim());
  if (!m) throw new ValidationError(field, `${field} must be a duration like 500ms, 30s or 7d, got '${text}'`);
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2]!]!);
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12,
  KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
  k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4,
};

/** '512MiB', '50GiB', '1G' → bytes. */
export function parseSize(text: string, field: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|k|K|M|G|T)?$/.exec(text.trim());
  if (!m) throw new ValidationError(field, `${field} must be a size like 512MiB or 50GiB, got '${text}'`);
  return Math.round(Number(m[1]) * SIZE_UNITS[m[2] ?? '']!);
}

/** 'host:port' or '[v6]:port' → parts. */
export function parseHostPort(addr: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]+)):([0-9]{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 0 || port > 65535) {
    throw new ValidationError(field, `${field} must be host:port (IPv6 as [::1]:3306), got '${addr}'`);
  }
  return { host: m[1] ?? m[2]!, port };
}
