/**
 * Every key layout of the store, in one pure module (no I/O). Keys are bytes; integers in keys are big-endian
 * so that LevelDB's byte order is their numeric order.
 *
 * | prefix | key                                         | value (codecs in records.ts)                    |
 * |--------|---------------------------------------------|-------------------------------------------------|
 * | 0x01   | [0x01]                                      | format: magic 'BLPX' + version u32              |
 * | 0x03   | [0x03][fileNo u32]                          | file record (name, first seq/pos, FDE, GTIDs)   |
 * | 0x10   | [0x10][seq u64][sub u32], sub < 0xffffffff   | log segment: the records of one or more units,  |
 * |        |                                             | starting with unit `seq`, chunk `sub`           |
 * | 0x10   | [0x10][seq u64][0xffffffff]                 | checkpoint: the log state after unit `seq`      |
 * | 0x05   | [0x05][name utf8]                           | a named metadata blob of another component      |
 * | 0x06   | [0x06][len u8][section utf8][key utf8]      | an entry of a named key/value section           |
 *
 * Why the log is one key range (measured, see bench/storage.ts --layouts): LevelDB only moves a freshly
 * flushed table down the levels without rewriting it when its key range overlaps nothing below. Every write of
 * an append therefore goes to keys above all existing keys: units, the checkpoint of the state and the chunks
 * of a streamed transaction all live in the 0x10 range ordered by sequence. A separately keyed state or
 * per-unit position index made every table overlap every other and halved append throughput. Position, time
 * and sequence look-ups binary-search this one range instead (segments carry positions and timestamps).
 * File records (0x03) are written once or twice per binlog file, which is rare enough not to matter.
 *
 * Everything that is not the log sorts below it, metadata and sections too (format version 2; they were at
 * 0x20/0x21 in version 1). A key above the log put the table that holds it, with the newest log keys before
 * it, above every later append: each new table overlapped it, so none was moved down without a rewrite. In the
 * bench's ingest LevelDB rewrote 73 of the 92 MB once more (five compactions of 3-4 tables into that one), and
 * its background thread used 370-430 ms against 160-250 ms with the keys below (no compaction at all). A
 * write below the log overlaps only older tables: LevelDB merges it with level 1 at most (~10 MB) and splits
 * it from the log keys where the next level has data between them.
 *
 * Sequences are unit numbers 1, 2, 3, ... (0 is "before the first unit"); they are JS safe integers in
 * memory and u64 on disk.
 */
import { badArgument, corrupt } from './errors.js';

export const PREFIX_FORMAT = 0x01;
export const PREFIX_FILE = 0x03;
export const PREFIX_LOG = 0x10;
export const PREFIX_META = 0x05;
export const PREFIX_SECTION = 0x06;
/** Where metadata and sections were in format version 1 (migrations.ts moves them). */
export const V1_PREFIX_META = 0x20;
export const V1_PREFIX_SECTION = 0x21;

/** `sub` of a checkpoint key; sorts after every chunk of the same sequence. */
export const SUB_CHECKPOINT = 0xffffffff;
/** Largest chunk index a unit may have. */
export const MAX_CHUNK = 0xfffffffe;

const TWO_32 = 0x1_0000_0000;

export interface KeyRange {
  gte: Buffer;
  lt: Buffer;
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

/** Every key starting with the byte `prefix`. */
export function prefixRange(prefix: number): KeyRange {
  return { gte: Buffer.from([prefix]), lt: Buffer.from([prefix + 1]) };
}

// ---- format version ------------------------------------------------------------------------------------

export function formatKey(): Buffer {
  return Buffer.from([PREFIX_FORMAT]);
}

// ---- files ---------------------------------------------------------------------------------------------

export function fileKey(fileNo: number): Buffer {
  const k = Buffer.allocUnsafe(5);
  k[0] = PREFIX_FILE;
  k.writeUInt32BE(fileNo, 1);
  return k;
}

export function fileRange(): KeyRange {
  return prefixRange(PREFIX_FILE);
}

export function decodeFileKey(key: Buffer): number {
  if (key.length !== 5 || key[0] !== PREFIX_FILE) throw corrupt(`not a file key: ${key.toString('hex')}`);
  return key.readUInt32BE(1);
}

// ---- the log -------------------------------------------------------------------------------------------

export const LOG_KEY_LENGTH = 13;

/** The key of the log segment that starts with chunk `sub` of unit `seq`. */
export function logKey(seq: number, sub = 0): Buffer {
  const k = Buffer.allocUnsafe(LOG_KEY_LENGTH);
  k[0] = PREFIX_LOG;
  writeU64(k, seq, 1);
  k.writeUInt32BE(sub, 9);
  return k;
}

/** The key of the checkpoint that holds the state after unit `seq`. */
export function checkpointKey(seq: number): Buffer {
  return logKey(seq, SUB_CHECKPOINT);
}

export interface LogKey {
  seq: number;
  sub: number;
}

export function isLogKey(key: Buffer): boolean {
  return key.length === LOG_KEY_LENGTH && key[0] === PREFIX_LOG;
}

/** A log key whose entry is a checkpoint (sub SUB_CHECKPOINT), without decoding it. */
export function isCheckpointKey(key: Buffer): boolean {
  return isLogKey(key) && key.readUInt32BE(9) === SUB_CHECKPOINT;
}

/** Throws ERR_STORAGE_CORRUPT on a key that is not a log key. */
export function decodeLogKey(key: Buffer): LogKey {
  if (!isLogKey(key)) throw corrupt(`not a log key: ${key.toString('hex')}`);
  return { seq: readU64(key, 1), sub: key.readUInt32BE(9) };
}

/** The whole log range (every segment and checkpoint). */
export function logRange(): KeyRange {
  return prefixRange(PREFIX_LOG);
}

/** Units `from` .. `to` inclusive, with every chunk and the checkpoints after them. */
export function logSeqRange(from: number, to: number): KeyRange {
  return { gte: logKey(from, 0), lt: logKey(to + 1, 0) };
}

// ---- metadata of other components ----------------------------------------------------------------------

export function metaKey(name: string): Buffer {
  if (name.length === 0) throw badArgument('empty meta name');
  return Buffer.concat([Buffer.from([PREFIX_META]), Buffer.from(name, 'utf8')]);
}

export function metaRange(): KeyRange {
  return prefixRange(PREFIX_META);
}

export function decodeMetaKey(key: Buffer): string {
  return key.toString('utf8', 1);
}

function sectionPrefix(section: string): Buffer {
  const name = Buffer.from(section, 'utf8');
  if (name.length === 0 || name.length > 255) throw badArgument(`section name must be 1..255 bytes: '${section}'`);
  return Buffer.concat([Buffer.from([PREFIX_SECTION, name.length]), name]);
}

export function sectionKey(section: string, key: string): Buffer {
  return Buffer.concat([sectionPrefix(section), Buffer.from(key, 'utf8')]);
}

/** Every key of one section (the length byte keeps `ab` from matching section `a` with key `b...`). */
export function sectionRange(section: string): KeyRange {
  const p = sectionPrefix(section);
  const lt = Buffer.from(p);
  // No section key can reach the upper bound: it is the prefix with its last byte incremented, or the
  // next length byte when that byte is 0xff.
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === 0xff) i--;
  lt[i] = lt[i]! + 1;
  return { gte: p, lt: lt.subarray(0, i + 1) };
}

export function decodeSectionKey(section: string, key: Buffer): string {
  return key.toString('utf8', sectionPrefix(section).length);
}
