/**
 * The JSON records stored under the keys of keys.ts, with strict decoding: a record that does not have the
 * expected shape is an ERR_CLUSTER_STATE, never half-used. Every record carries `v` (format version).
 *
 *   LeaderRecord  {"v":1,"name","admin_url","server_addr"}
 *   MemberRecord  {"v":1,"name","admin_url","server_addr","position":{...}|null,"updated_at"}
 *   IntentRecord  {"v":1,"running","args":{...SyncerArgs without mysql_password}|absent,
 *                  "password":SealedSecret|absent,"epoch":"<decimal>","leader","updated_at"}
 */
import type { SyncerArgs } from '../config/config.js';
import { syncerArgsSchema } from '../config/schema.js';
import { ValidationError, validate } from '../config/validate.js';
import { ClusterError } from './errors.js';
import type { SealedSecret, SecretBox } from './secrets.js';
import type { LeaderInfo, MemberInfo, MemberPosition, MemberStatus, StoredSyncerIntent, SyncerIntent } from './types.js';

export const RECORD_VERSION = 1;

function parse(bytes: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ClusterError('ERR_CLUSTER_STATE', `the stored ${what} is not valid JSON`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ClusterError('ERR_CLUSTER_STATE', `the stored ${what} is not a JSON object`);
  }
  const rec = doc as Record<string, unknown>;
  if (rec.v !== RECORD_VERSION) {
    throw new ClusterError('ERR_CLUSTER_STATE', `the stored ${what} has format version ${String(rec.v)}, this node reads ${RECORD_VERSION}`);
  }
  return rec;
}

function str(rec: Record<string, unknown>, field: string, what: string): string {
  const v = rec[field];
  if (typeof v !== 'string') throw new ClusterError('ERR_CLUSTER_STATE', `the stored ${what} has no string '${field}'`);
  return v;
}

function encode(doc: object): Buffer {
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

// ---------------------------------------------------------------------------------------------------------
// Leader

export function encodeLeader(info: MemberInfo): Buffer {
  return encode({ v: RECORD_VERSION, name: info.name, admin_url: info.adminUrl, server_addr: info.serverAddr });
}

export function decodeLeader(bytes: Buffer, createRevision: string): LeaderInfo {
  const rec = parse(bytes, 'leader record');
  return {
    name: str(rec, 'name', 'leader record'),
    adminUrl: str(rec, 'admin_url', 'leader record'),
    serverAddr: str(rec, 'server_addr', 'leader record'),
    epoch: BigInt(createRevision),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Member

export function encodeMember(info: MemberInfo, position: MemberPosition | null, now: Date): Buffer {
  return encode({
    v: RECORD_VERSION,
    name: info.name,
    admin_url: info.adminUrl,
    server_addr: info.serverAddr,
    position,
    updated_at: now.toISOString(),
  });
}

function decodePosition(v: unknown): MemberPosition | null {
  if (v === null || v === undefined) return null;
  const p = v as Partial<MemberPosition>;
  if (
    typeof v !== 'object' || typeof p.executed_gtid_set !== 'string' ||
    (p.last_binlog_file !== null && typeof p.last_binlog_file !== 'string') ||
    (p.last_file_position !== null && typeof p.last_file_position !== 'number')
  ) {
    throw new ClusterError('ERR_CLUSTER_STATE', 'the stored member record has a malformed position');
  }
  return { executed_gtid_set: p.executed_gtid_set, last_binlog_file: p.last_binlog_file ?? null, last_file_position: p.last_file_position ?? null };
}

export function decodeMember(bytes: Buffer, leaderName: string | null): MemberStatus {
  const rec = parse(bytes, 'member record');
  const name = str(rec, 'name', 'member record');
  return {
    name,
    admin_url: str(rec, 'admin_url', 'member record'),
    server_addr: str(rec, 'server_addr', 'member record'),
    is_leader: name === leaderName,
    position: decodePosition(rec.position),
    updated_at: str(rec, 'updated_at', 'member record'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Syncer intent

export interface IntentWriter {
  epoch: bigint;
  leader: string;
  now: Date;
}

/** `aad`: the etcd key the record is stored under (binds the sealed password to it). */
export function encodeIntent(intent: SyncerIntent, writer: IntentWriter, box: SecretBox, aad: string): Buffer {
  let args: Omit<SyncerArgs, 'mysql_password'> | undefined;
  let password: SealedSecret | undefined;
  if (intent.args !== undefined) {
    const { mysql_password: secret, ...rest } = intent.args;
    args = rest;
    password = box.seal(secret, aad);
  }
  if (intent.running && intent.args === undefined) {
    throw new ValidationError('args', 'a running syncer intent needs the syncer arguments');
  }
  return encode({
    v: RECORD_VERSION,
    running: intent.running,
    ...(args !== undefined ? { args, password } : {}),
    epoch: writer.epoch.toString(),
    leader: writer.leader,
    updated_at: writer.now.toISOString(),
  });
}

function decodeSealed(v: unknown): SealedSecret {
  const s = v as Record<string, unknown> | null;
  if (typeof s === 'object' && s !== null) {
    if (s.alg === 'plain' && typeof s.value === 'string') return { alg: 'plain', value: s.value };
    if (s.alg === 'aes-256-gcm' && typeof s.iv === 'string' && typeof s.tag === 'string' && typeof s.data === 'string') {
      return { alg: 'aes-256-gcm', iv: s.iv, tag: s.tag, data: s.data };
    }
  }
  throw new ClusterError('ERR_CLUSTER_STATE', 'the stored syncer intent has a malformed password field');
}

export function decodeIntent(bytes: Buffer, modRevision: string, box: SecretBox, aad: string): StoredSyncerIntent {
  const rec = parse(bytes, 'syncer intent');
  if (typeof rec.running !== 'boolean') throw new ClusterError('ERR_CLUSTER_STATE', "the stored syncer intent has no boolean 'running'");
  const epochText = str(rec, 'epoch', 'syncer intent');
  if (!/^[0-9]{1,20}$/.test(epochText)) throw new ClusterError('ERR_CLUSTER_STATE', "the stored syncer intent has a malformed 'epoch'");
  let args: SyncerArgs | undefined;
  if (rec.args !== undefined) {
    if (typeof rec.args !== 'object' || rec.args === null || Array.isArray(rec.args)) {
      throw new ClusterError('ERR_CLUSTER_STATE', "the stored syncer intent has a malformed 'args'");
    }
    const full = { ...(rec.args as Record<string, unknown>), mysql_password: box.open(decodeSealed(rec.password), aad) };
    try {
      args = validate<SyncerArgs>(syncerArgsSchema, full, 'args');
    } catch (err) {
      // The validation message names the field; it never contains the value of the password.
      throw new ClusterError('ERR_CLUSTER_STATE', `the stored syncer intent has invalid arguments: ${(err as Error).message}`, { cause: err });
    }
  }
  if (rec.running && args === undefined) throw new ClusterError('ERR_CLUSTER_STATE', 'the stored syncer intent is running but has no arguments');
  return {
    running: rec.running,
    ...(args !== undefined ? { args } : {}),
    epoch: BigInt(epochText),
    leader: str(rec, 'leader', 'syncer intent'),
    updated_at: str(rec, 'updated_at', 'syncer intent'),
    revision: BigInt(modRevision),
  };
}

/** A loggable view of an intent: never the password. */
export function describeIntent(intent: SyncerIntent | null): Record<string, unknown> {
  if (intent === null) return { intent: null };
  return {
    running: intent.running,
    mysql_addr: intent.args?.mysql_addr,
    mysql_user: intent.args?.mysql_user,
    syncer_id: intent.args?.syncer_id,
  };
}
