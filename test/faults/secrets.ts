// Every secret the fault suite hands to the daemon. The global teardown fails the run when any of them shows
// up in a daemon log; the security tests also check status, metrics and error bodies against them.
export const SECRETS = {
  /** Upstream replication account on the primaries. */
  replPassword: 'flt-repl-Zq81vKx2',
  /** Replica-facing account of the proxy. */
  serverPassword: 'flt-srv-Hw53pLm9',
  /** Admin bearer token. */
  adminToken: 'flt-token-Rk27cNd4yE',
  /** Wrong passwords that hostile clients try (they must not be echoed either). */
  wrongPassword: 'flt-wrong-Jt66bVs0',
} as const;

export const ALL_SECRETS: readonly string[] = Object.values(SECRETS);
