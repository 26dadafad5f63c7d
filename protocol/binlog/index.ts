/** Binlog events as views over their raw bytes: header, checksums, body decoders, builders, files, tracking. */
export * from './constants.js';
export { BinlogEvent, readEventHeader, asEvent, type EventHeader } from './header.js';
export { EVENT_TYPE_OFFSET, EVENT_LEN_OFFSET, FLAGS_OFFSET, LOG_POS_OFFSET, SERVER_ID_OFFSET, TIMESTAMP_OFFSET } from './header.js';
export { computeEventChecksum, storedEventChecksum, verifyEventChecksum, withRecomputedChecksum } from './checksum.js';
export { ChecksumRun, CRC32_RESIDUE } from './checksum_run.js';
export { buildEvent, type EventHeaderInit } from './event_writer.js';
export { checksumAlgOf, postHeaderLengthOf, DEFAULT_POST_HEADER_LENGTHS, type EventContext } from './context.js';
export {
  decodeFormatDescription,
  encodeFormatDescription,
  fdePostHeaderLength,
  flavorOf,
  isChecksumAware,
  serverVersionSplit,
  FDE_CREATED_EVENT_OFFSET,
  type Flavor,
  type FormatDescription,
} from './fde.js';
export { decodeRotate, encodeRotate, type Rotate } from './rotate.js';
export { decodeQuery, queryKind, querySqlOffset, type Query, type QueryKind } from './query.js';
export { decodeXid, type Xid } from './xid.js';
export { decodeXaPrepare, formatXaXid, type XaPrepare, type XaXid } from './xa.js';
export { decodeMysqlGtid, encodeMysqlGtid, type MysqlGtidEvent } from './gtid.js';
export {
  decodeGtidTagged,
  encodeGtidTagged,
  encodeVarlenUint,
  readVarlenUint,
  varlenUintSize,
  zigzagDecode,
  zigzagEncode,
  type TaggedGtidEvent,
} from './gtid_tagged.js';
export { decodePreviousGtids, encodePreviousGtids, type PreviousGtids } from './previous_gtids.js';
export { decodeTransactionPayload, type TransactionPayload } from './transaction_payload.js';
export { decodeMariadbGtid, encodeMariadbGtid, type MariadbGtidEvent } from './mariadb_gtid.js';
export {
  decodeMariadbGtidList,
  encodeMariadbGtidList,
  encodeMariadbGtidListBody,
  type MariadbGtidList,
} from './mariadb_gtid_list.js';
export { decodeBinlogCheckpoint, encodeBinlogCheckpoint, type BinlogCheckpoint } from './binlog_checkpoint.js';
export { decodeAnnotateRows, type AnnotateRows } from './annotate_rows.js';
export {
  isMariadbCompressedEvent,
  isMariadbCompressedRowsEvent,
  uncompressedTypeOf,
  uncompressMariadbBlock,
  uncompressMariadbBlockPrefix,
} from './mariadb_compressed.js';
export { decodeHeartbeat, type Heartbeat, type HeartbeatInit } from './heartbeat.js';
export {
  buildFakeRotate,
  buildHeartbeat,
  buildHeartbeatV2,
  buildMariadbGtidList,
  restampFde,
  type FakeGtidListInit,
  type FakeRotateInit,
  type RestampFdeOptions,
} from './builders.js';
export {
  binlogFileStart,
  binlogTruncated,
  checkBinlogMagic,
  readBinlogFile,
  readBinlogPiece,
  type BinlogFileEvent,
  type BinlogFileState,
  type ReadBinlogFileOptions,
} from './file.js';
export {
  TransactionTracker,
  queryKindOf,
  type GroupComplete,
  type GroupKind,
  type TrackerResult,
  type TrackerRole,
  type TrackerStep,
} from './tracker.js';
export { uuidFromBytes, uuidToBytes } from './uuid.js';
