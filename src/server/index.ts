/** The replica-facing server: what the composition root (main.ts) and the admin API use. */
export { ReplicationServer, type ReplicationServerDeps, type ReplicationServerSettings } from './server.js';
export { StaticSourceView, type SourceView, type StaticSourceInit, type BinlogFileSummary } from './source.js';
export { StoreSourceView } from './source-store.js';
export type { PassthroughTarget } from './passthrough.js';
export type { SessionLimits } from './session.js';
export type { AuthThrottleOptions } from './throttle.js';
export type { TlsConfig } from './tls.js';
export type { ReplicaInfo, ServerControl, ServerStatus } from './types.js';
