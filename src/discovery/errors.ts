import { BinlogProxyError } from '../../protocol/errors.js';

/**
 * The one catalogue of discovery failures: stable code, HTTP status and meaning. The routes answer with
 * `status`; scripts match on `code`. Messages never contain credentials (see `redactSecrets`).
 */
export const DISCOVERY_ERRORS = {
  ERR_DISCOVERY_BAD_REQUEST: { status: 400, meaning: 'invalid host, port or cluster hint' },
  ERR_DISCOVERY_UNAUTHORIZED: { status: 401, meaning: 'missing or wrong admin token' },
  ERR_DISCOVERY_NOT_FOUND: { status: 404, meaning: 'no such instance or cluster in the store' },
  ERR_DISCOVERY_REFUSED: { status: 502, meaning: 'the instance refused the TCP connection' },
  ERR_DISCOVERY_UNREACHABLE: { status: 502, meaning: 'no route to the instance' },
  ERR_DISCOVERY_UNRESOLVED: { status: 502, meaning: 'the host name does not resolve' },
  ERR_DISCOVERY_SERVER_ERROR: { status: 502, meaning: 'the instance answered with an error (e.g. access denied)' },
  ERR_DISCOVERY_IO: { status: 502, meaning: 'the connection broke or the instance spoke garbage' },
  ERR_DISCOVERY_TIMEOUT: { status: 504, meaning: 'the instance did not answer within the connect/query timeout' },
  ERR_DISCOVERY_NOT_CONFIGURED: { status: 503, meaning: 'no discovery credentials are configured' },
  ERR_DISCOVERY_CLOSED: { status: 503, meaning: 'the discovery service is shutting down' },
  ERR_DISCOVERY_STORE: { status: 500, meaning: 'the instance store failed' },
} as const;

export type DiscoveryErrorCode = keyof typeof DISCOVERY_ERRORS;

export interface DiscoveryErrorDetails {
  /** The server's error number (ERR packet), when the instance answered with one. */
  errno?: number;
  sql_state?: string;
  /** The server's own error text (without our prefix). */
  server_message?: string;
}

export class DiscoveryError extends BinlogProxyError {
  declare readonly code: DiscoveryErrorCode;
  readonly status: number;
  readonly details: DiscoveryErrorDetails;

  constructor(code: DiscoveryErrorCode, message: string, options?: { cause?: unknown; details?: DiscoveryErrorDetails }) {
    super(code, message, options);
    this.status = DISCOVERY_ERRORS[code].status;
    this.details = options?.details ?? {};
  }
}

/**
 * Replaces every occurrence of a secret in `text` with '***'. Secrets shorter than 4 characters are not
 * searched for (they would blank out ordinary words); they cannot appear in our own messages anyway,
 * since no message is ever built from a password.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | null | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (typeof s === 'string' && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}
