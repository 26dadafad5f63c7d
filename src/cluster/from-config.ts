/**
 * From the typed Config (config `cluster` section) to the coordinator's options. Pure.
 *
 * Advertised addresses default to the listen addresses, unless those are wildcards (0.0.0.0, ::), which
 * other nodes cannot dial: then `cluster.advertise_admin` / `cluster.advertise_server` are required.
 */
import type { Config } from '../config/config.js';
import { ValidationError } from '../config/validate.js';
import type { Logger } from '../logger.js';
import type { EtcdCoordinatorOptions } from './coordinator.js';
import type { MemberInfo } from './types.js';

const WILDCARD = /^(0\.0\.0\.0|\[::\]|::|\*):/;

export function memberFromConfig(config: Config): MemberInfo {
  const cluster = config.cluster;
  if (cluster === null) throw new ValidationError('cluster', 'cluster mode is not configured');
  let adminUrl = cluster.advertiseAdmin;
  if (adminUrl === null) {
    if (WILDCARD.test(config.admin.listen)) {
      throw new ValidationError('cluster.advertise_admin', `cluster.advertise_admin is required when admin.listen is a wildcard (${config.admin.listen})`);
    }
    adminUrl = `${config.admin.tls ? 'https' : 'http'}://${config.admin.listen}`;
  }
  let serverAddr = cluster.advertiseServer;
  if (serverAddr === null) {
    const listen = config.server?.addr;
    if (listen === undefined) {
      throw new ValidationError('cluster.advertise_server', 'cluster.advertise_server is required when no server.listen is configured');
    }
    if (WILDCARD.test(listen)) {
      throw new ValidationError('cluster.advertise_server', `cluster.advertise_server is required when server.listen is a wildcard (${listen})`);
    }
    serverAddr = listen;
  }
  return { name: cluster.name, adminUrl, serverAddr };
}

export interface CoordinatorExtras {
  logger: Logger;
  /** Cluster secret that seals the stored syncer password (e.g. from BINLOG_PROXY_CLUSTER_SECRET); null: unsealed. */
  secret?: string | null;
  /**
   * etcd TLS material (PEM bytes). The config names files (`cluster.etcd_tls`); this module is pure, so the
   * caller reads them (see `etcdTlsFiles`). Authentication comes from `cluster.etcd_user` unless given here.
   */
  credentials?: EtcdCoordinatorOptions['etcd']['credentials'];
  auth?: EtcdCoordinatorOptions['etcd']['auth'];
}

/** Reads the PEM files `cluster.etcd_tls` names into etcd3 credentials; null without `etcd_tls`. */
export function etcdTlsFiles(config: Config, readFile: (path: string) => Buffer): NonNullable<EtcdCoordinatorOptions['etcd']['credentials']> | null {
  const tls = config.cluster?.etcdTls ?? null;
  if (tls === null) return null;
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ValidationError('cluster.etcd_tls', 'cluster.etcd_tls needs both cert and key for a client certificate, or neither');
  }
  const read = (path: string, field: string): Buffer => {
    try {
      return readFile(path);
    } catch (err) {
      throw new ValidationError(field, `cannot read ${field} ${path}: ${(err as Error).message}`);
    }
  };
  return {
    rootCertificate: read(tls.ca, 'cluster.etcd_tls.ca'),
    ...(tls.cert !== undefined && tls.key !== undefined
      ? { certChain: read(tls.cert, 'cluster.etcd_tls.cert'), privateKey: read(tls.key, 'cluster.etcd_tls.key') }
      : {}),
  };
}

export function coordinatorOptionsFromConfig(config: Config, extras: CoordinatorExtras): EtcdCoordinatorOptions {
  const cluster = config.cluster;
  if (cluster === null) throw new ValidationError('cluster', 'cluster mode is not configured');
  if (cluster.etcd.length === 0) throw new ValidationError('cluster.etcd', 'cluster.etcd needs at least one endpoint');
  return {
    self: memberFromConfig(config),
    etcd: {
      hosts: cluster.etcd,
      ...(extras.credentials ? { credentials: extras.credentials } : {}),
      ...(extras.auth ? { auth: extras.auth } : cluster.etcdAuth ? { auth: cluster.etcdAuth } : {}),
    },
    prefix: cluster.prefix,
    leaseTtlMs: cluster.leaseTtlMs,
    secret: extras.secret ?? cluster.secret,
    logger: extras.logger,
  };
}
