/**
 * Public surface of the pure protocol layer: wire codecs, binlog constants and (once written) the binlog
 * event and GTID modules. Import from here outside `protocol/`.
 */
export * from './errors.js';
export * from './bytes.js';
export * from './constants.js';
export * from './binlog/constants.js';
export * from './packet.js';
export * from './handshake.js';
export * from './auth.js';
export * from './generic.js';
export * from './resultset.js';
export * from './commands.js';
export * from './binlog/index.js';
export * from './gtid/index.js';
