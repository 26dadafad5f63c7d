import { BinlogProxyError } from '../../protocol/errors.js';

/**
 * The catalogue of cluster failures: stable code, HTTP status (when an admin request hits it) and meaning.
 * Scripts match on `code`; messages are for humans and never contain the syncer password.
 */
export const CLUSTER_ERRORS = {
  ERR_NO_LEADER: { status: 503, meaning: 'no node holds the leadership right now (election in progress or etcd unreachable)' },
  ERR_NOT_LEADER: { status: 503, meaning: 'this node is not (or no longer) the leader; the write was fenced off' },
  ERR_LEADER_UNREACHABLE: { status: 502, meaning: 'the leader is elected but its admin API refused or broke the connection' },
  ERR_LEADER_TIMEOUT: { status: 504, meaning: 'the leader is elected but its admin API did not answer in time' },
  ERR_CLUSTER_UNAVAILABLE: { status: 503, meaning: 'etcd did not answer in time' },
  ERR_CLUSTER_STATE: { status: 500, meaning: 'a record stored in etcd is malformed' },
  ERR_CLUSTER_SECRET: { status: 500, meaning: 'the stored syncer password cannot be decrypted with this node\'s cluster secret' },
  ERR_CLUSTER_CLOSED: { status: 503, meaning: 'the cluster coordinator is stopped' },
} as const;

export type ClusterErrorCode = keyof typeof CLUSTER_ERRORS;

export class ClusterError extends BinlogProxyError {
  declare readonly code: ClusterErrorCode;
  readonly status: number;

  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = CLUSTER_ERRORS[code].status;
  }
}
