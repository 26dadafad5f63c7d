/**
 * The catalogue of the daemon's stable error codes: HTTP status for the admin API, and whether a retry
 * can fix it. Codes are contracts (scripts match on them); messages are for humans.
 */
import { BinlogProxyError } from '../protocol/errors.js';

export { BinlogProxyError };

export class ConflictError extends BinlogProxyError {}
export class NotFoundError extends BinlogProxyError {}

interface CatalogueEntry {
  http: number;
}

export const ERROR_CATALOGUE: Record<string, CatalogueEntry> = {
  ERR_INVALID_INPUT: { http: 400 },
  ERR_INVALID_JSON: { http: 400 },
  ERR_UNAUTHORIZED: { http: 401 },
  ERR_NOT_FOUND: { http: 404 },
  ERR_ALREADY_RUNNING: { http: 409 },
  ERR_NOT_RUNNING: { http: 409 },
  ERR_PURGE_IN_USE: { http: 409 },
  ERR_FLAVOR_MISMATCH: { http: 409 },
  ERR_GC_UNAVAILABLE: { http: 409 },
  ERR_BODY_TOO_LARGE: { http: 413 },
  ERR_UNSUPPORTED_MEDIA_TYPE: { http: 415 },
  ERR_NO_LEADER: { http: 503 },
  ERR_NOT_LEADER: { http: 503 },
  ERR_LEADER_UNREACHABLE: { http: 502 },
  ERR_LEADER_TIMEOUT: { http: 504 },
  ERR_CLUSTER_UNAVAILABLE: { http: 503 },
  ERR_CLUSTER_CLOSED: { http: 503 },
  ERR_CLUSTER_STATE: { http: 500 },
  ERR_CLUSTER_SECRET: { http: 500 },
  ERR_UPSTREAM_REFUSED: { http: 502 },
  ERR_UPSTREAM_UNREACHABLE: { http: 502 },
  ERR_UPSTREAM_TIMEOUT: { http: 504 },
  ERR_LISTEN: { http: 500 },
  ERR_INTERNAL: { http: 500 },
};

export function httpStatusOf(err: unknown): number {
  if (err instanceof BinlogProxyError) return ERROR_CATALOGUE[err.code]?.http ?? 500;
  return 500;
}

export function codeOf(err: unknown): string {
  return err instanceof BinlogProxyError ? err.code : 'ERR_INTERNAL';
}
