/** Instance discovery (orchestrator-style): the service, its store, the HTTP routes and the page. */
export { DiscoveryService, type DiscoveryDeps, type DiscoveryLogger, type DiscoverySettings } from './service.js';
export { discoveryRoutes, findWebDir, type ApiEnvelope, type DiscoveryRoutesOptions } from './routes.js';
export { DISCOVERY_ERRORS, DiscoveryError, redactSecrets, type DiscoveryErrorCode } from './errors.js';
export { KvInstanceStore, MemoryKvRange, type InstanceStore, type KvRange } from './store.js';
export { LevelKvRange, openBufferLevel } from './kv-level.js';
export { mysql2Connector, type SqlConnector, type SqlSession } from './sql.js';
export { systemHostResolver, formatKey, parseInstanceKey, type HostResolver } from './key.js';
export { probeInstance, type ProbeOptions } from './probe.js';
export type * from './types.js';
