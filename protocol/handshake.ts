/**
 * Connection-phase packets (§1.3–§1.6): the server greeting (HandshakeV10), the client's
 * HandshakeResponse41 and SSLRequest, AuthSwitchRequest and AuthMoreData.
 */
import { randomBytes } from 'node:crypto';
import { ByteReader, ByteWriter, lenencSize, lenencStringSize } from './bytes.js';
import { ProtocolError } from './errors.js';
import {
  AUTH_MORE_DATA_HEADER,
  AUTH_SWITCH_HEADER,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_LONG_FLAG,
  CLIENT_LONG_PASSWORD,
  CLIENT_MULTI_RESULTS,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_PS_MULTI_RESULTS,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  CLIENT_TRANSACTIONS,
  CLIENT_ZSTD_COMPRESSION_ALGORITHM,
} from './constants.js';

// ---------------------------------------------------------------------------------------------------
// Capability sets
// ---------------------------------------------------------------------------------------------------

/**
 * What our server advertises to MySQL-flavour clients: go-mysql's proven server set (§1.4) without the
 * optional SESSION_TRACK. Add CLIENT_SSL (see `withTls`) only when TLS is configured. Never COMPRESS,
 * ZSTD, QUERY_ATTRIBUTES or OPTIONAL_RESULTSET_METADATA: we implement none of them.
 */
export const MYSQL_SERVER_CAPABILITIES =
  CLIENT_LONG_PASSWORD |
  CLIENT_LONG_FLAG |
  CLIENT_CONNECT_WITH_DB |
  CLIENT_PROTOCOL_41 |
  CLIENT_TRANSACTIONS |
  CLIENT_SECURE_CONNECTION |
  CLIENT_MULTI_RESULTS |
  CLIENT_PS_MULTI_RESULTS |
  CLIENT_PLUGIN_AUTH |
  CLIENT_CONNECT_ATTRS |
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT_DEPRECATE_EOF;

/**
 * What our server advertises to MariaDB-flavour clients. The same set: bit 0 (CLIENT_MYSQL for MariaDB)
 * stays set, so MariaDB clients ignore the extended-capability bytes and treat us as a plain server.
 */
export const MARIADB_SERVER_CAPABILITIES = MYSQL_SERVER_CAPABILITIES;

/** What the daemon sends as a client of an upstream server (before intersecting with the greeting). */
export const UPSTREAM_CLIENT_CAPABILITIES =
  CLIENT_LONG_PASSWORD |
  CLIENT_LONG_FLAG |
  CLIENT_PROTOCOL_41 |
  CLIENT_TRANSACTIONS |
  CLIENT_SECURE_CONNECTION |
  CLIENT_MULTI_RESULTS |
  CLIENT_PS_MULTI_RESULTS |
  CLIENT_PLUGIN_AUTH |
  CLIENT_CONNECT_ATTRS |
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT_DEPRECATE_EOF;

/** `caps` plus CLIENT_SSL (for a listener or client with TLS configured). */
export function withTls(caps: number): number {
  return (caps | CLIENT_SSL) >>> 0;
}

/** Capability words are unsigned 32-bit; JS bit operations give signed results. */
function u32(v: number): number {
  return v >>> 0;
}

// ---------------------------------------------------------------------------------------------------
// Nonce
// ---------------------------------------------------------------------------------------------------

/** Length of the authentication nonce ("scramble") in the greeting. */
export const NONCE_LENGTH = 20;

/**
 * A fresh 20-byte nonce of printable ASCII (0x21..0x7e, without '$' like MySQL's generate_user_salt),
 * so it never holds a 0x00: some clients treat the nonce as a C string.
 */
export function generateNonce(): Buffer {
  const out = Buffer.allocUnsafe(NONCE_LENGTH);
  let filled = 0;
  while (filled < NONCE_LENGTH) {
    const rnd = randomBytes(32);
    for (let i = 0; i < rnd.length && filled < NONCE_LENGTH; i++) {
      const b = rnd[i]! & 0x7f; // 0..127, uniform
      if (b >= 0x21 && b <= 0x7e && b !== 0x24) out[filled++] = b;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// HandshakeV10 (server greeting)
// ---------------------------------------------------------------------------------------------------

/*
 * HandshakeV10 layout
 *   size              field
 *   1                 protocol_version = 0x0a
 *   str<NUL>          server_version
 *   4                 connection_id
 *   8                 auth_plugin_data part 1 (nonce[0..8])
 *   1                 filler 0x00
 *   2                 capability_flags low 16 bits
 *   --- the rest may be absent on ancient servers ---
 *   1                 character_set (collation id)
 *   2                 status_flags
 *   2                 capability_flags high 16 bits
 *   1                 auth_plugin_data_len (nonce + NUL) if CLIENT_PLUGIN_AUTH, else 0
 *   6                 reserved zeros
 *   4                 MariaDB extended capabilities when CLIENT_MYSQL (bit 0) is clear, else zeros
 *   max(13, len - 8)  auth_plugin_data part 2 (nonce[8..] + NUL) if CLIENT_SECURE_CONNECTION
 *   str<NUL>          auth_plugin_name if CLIENT_PLUGIN_AUTH (some 5.5 servers omit the NUL)
 */
export interface HandshakeV10 {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The nonce without its trailing NUL (20 bytes from every current server). */
  nonce: Buffer;
  capabilities: number;
  charset: number;
  statusFlags: number;
  /** null when the server lacks CLIENT_PLUGIN_AUTH (then mysql_native_password is implied). */
  authPluginName: string | null;
  /** MariaDB extended capabilities (only meaningful when bit 0 of `capabilities` is clear). */
  mariadbExtendedCapabilities: number;
}

/** What `encodeHandshakeV10` needs (a decoded HandshakeV10 also fits). */
export type HandshakeV10Init = Omit<HandshakeV10, 'protocolVersion' | 'mariadbExtendedCapabilities' | 'authPluginName'> & {
  /** Sent only with CLIENT_PLUGIN_AUTH. */
  authPluginName: string | null;
  mariadbExtendedCapabilities?: number;
};

export function encodeHandshakeV10(h: HandshakeV10Init): Buffer {
  if (h.nonce.length < 8) throw new RangeError(`nonce of ${h.nonce.length} bytes is too short`);
  const caps = u32(h.capabilities);
  const version = Buffer.from(h.serverVersion, 'utf8');
  const plugin = Buffer.from(h.authPluginName ?? '', 'utf8');
  const pluginAuth = (caps & CLIENT_PLUGIN_AUTH) !== 0;
  const part2 = h.nonce.subarray(8);
  const part2Size = Math.max(13, part2.length + 1);
  const size =
    1 + version.length + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + part2Size + (pluginAuth ? plugin.length + 1 : 0);
  const w = new ByteWriter(size);
  w.u8(10).bytesNul(version).u32(h.connectionId).bytes(h.nonce.subarray(0, 8)).u8(0);
  w.u16(caps & 0xffff).u8(h.charset).u16(h.statusFlags).u16(caps >>> 16);
  w.u8(pluginAuth ? h.nonce.length + 1 : 0);
  w.zeros(6).u32(h.mariadbExtendedCapabilities ?? 0);
  w.bytes(part2).zeros(part2Size - part2.length);
  if (pluginAuth) w.bytesNul(plugin);
  return w.finish();
}

export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new ByteReader(payload);
  const protocolVersion = r.u8('protocol_version');
  if (protocolVersion !== 10) {
    throw new ProtocolError('ERR_UNSUPPORTED', `unsupported handshake protocol version ${protocolVersion}`);
  }
  const serverVersion = r.strNul('server_version');
  const connectionId = r.u32('connection_id');
  const part1 = r.bytes(8, 'auth_plugin_data part 1');
  r.skip(1, 'filler');
  let capabilities = r.u16('capability_flags');
  let charset = 0;
  let statusFlags = 0;
  let authDataLen = 0;
  let mariadbExtendedCapabilities = 0;
  let part2: Buffer = Buffer.alloc(0);
  let authPluginName: string | null = null;
  if (r.remaining > 0) {
    charset = r.u8('character_set');
    statusFlags = r.u16('status_flags');
    capabilities = u32(capabilities | (r.u16('capability_flags high') << 16));
    authDataLen = r.u8('auth_plugin_data_len');
    r.skip(6, 'reserved');
    const ext = r.u32('reserved / MariaDB capabilities');
    if ((capabilities & CLIENT_LONG_PASSWORD) === 0) mariadbExtendedCapabilities = ext;
    if (capabilities & CLIENT_SECURE_CONNECTION) {
      const size = Math.max(13, authDataLen - 8);
      const raw = r.bytes(Math.min(size, r.remaining), 'auth_plugin_data part 2');
      // The nonce part is authDataLen - 9 bytes (12 when the length is not given); then a NUL.
      const want = authDataLen > 8 ? authDataLen - 9 : 12;
      part2 = raw.subarray(0, Math.min(want, raw.length));
    }
    if (capabilities & CLIENT_PLUGIN_AUTH) {
      const rest = r.rest();
      const nul = rest.indexOf(0);
      authPluginName = (nul < 0 ? rest : rest.subarray(0, nul)).toString('utf8');
    }
  }
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    nonce: Buffer.concat([part1, part2]),
    capabilities,
    charset,
    statusFlags,
    authPluginName,
    mariadbExtendedCapabilities,
  };
}

// ---------------------------------------------------------------------------------------------------
// HandshakeResponse41 and SSLRequest
// ---------------------------------------------------------------------------------------------------

/*
 * HandshakeResponse41 layout
 *   size          field
 *   4             client capability flags
 *   4             max_packet_size
 *   1             character_set
 *   19            filler zeros
 *   4             MariaDB extended capabilities (when the server cleared CLIENT_MYSQL), else zeros
 *   --- an SSLRequest ends here (32 bytes) ---
 *   str<NUL>      username
 *   auth response PLUGIN_AUTH_LENENC_CLIENT_DATA: str<lenenc>; else SECURE_CONNECTION: int<1> length +
 *                 bytes; else str<NUL>
 *   str<NUL>      database, if CLIENT_CONNECT_WITH_DB
 *   str<NUL>      client auth plugin name, if CLIENT_PLUGIN_AUTH
 *   lenenc        connect attributes total length, then (str<lenenc> key, str<lenenc> value)…,
 *                 if CLIENT_CONNECT_ATTRS
 *   1             zstd compression level, if CLIENT_ZSTD_COMPRESSION_ALGORITHM
 */
export interface HandshakeResponse41 {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbExtendedCapabilities: number;
  user: string;
  authResponse: Buffer;
  /** null unless CLIENT_CONNECT_WITH_DB (and the field is present). */
  database: string | null;
  /** null unless CLIENT_PLUGIN_AUTH (and the field is present). */
  authPluginName: string | null;
  /** null unless CLIENT_CONNECT_ATTRS (and the field is present). A repeated key keeps its last value. */
  connectAttributes: Map<string, string> | null;
  /** null unless CLIENT_ZSTD_COMPRESSION_ALGORITHM. */
  zstdCompressionLevel: number | null;
}

export interface HandshakeResponse41Init {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbExtendedCapabilities?: number;
  user: string;
  authResponse: Buffer;
  database?: string | null;
  authPluginName?: string | null;
  connectAttributes?: Map<string, string> | ReadonlyArray<readonly [string, string]> | null;
  zstdCompressionLevel?: number | null;
}

/** Bytes of an SSLRequest, also the fixed head of every HandshakeResponse41. */
export const SSL_REQUEST_SIZE = 32;

export function encodeHandshakeResponse41(h: HandshakeResponse41Init): Buffer {
  const caps = u32(h.capabilities);
  const user = Buffer.from(h.user, 'utf8');
  const db = caps & CLIENT_CONNECT_WITH_DB ? Buffer.from(h.database ?? '', 'utf8') : null;
  const plugin = caps & CLIENT_PLUGIN_AUTH ? Buffer.from(h.authPluginName ?? '', 'utf8') : null;
  let attrs: Array<[Buffer, Buffer]> | null = null;
  let attrsLength = 0;
  if (caps & CLIENT_CONNECT_ATTRS) {
    attrs = [];
    for (const [k, v] of h.connectAttributes ?? []) {
      const kb = Buffer.from(k, 'utf8');
      const vb = Buffer.from(v, 'utf8');
      attrs.push([kb, vb]);
      attrsLength += lenencStringSize(kb.length) + lenencStringSize(vb.length);
    }
  }
  const auth = h.authResponse;
  let authSize: number;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authSize = lenencStringSize(auth.length);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    if (auth.length > 255) throw new RangeError(`auth response of ${auth.length} bytes needs PLUGIN_AUTH_LENENC_CLIENT_DATA`);
    authSize = 1 + auth.length;
  } else {
    if (auth.includes(0)) throw new RangeError('a NUL-terminated auth response cannot contain 0x00');
    authSize = auth.length + 1;
  }
  const zstd = caps & CLIENT_ZSTD_COMPRESSION_ALGORITHM;
  const size =
    SSL_REQUEST_SIZE +
    user.length + 1 +
    authSize +
    (db ? db.length + 1 : 0) +
    (plugin ? plugin.length + 1 : 0) +
    (attrs ? lenencSize(attrsLength) + attrsLength : 0) +
    (zstd ? 1 : 0);
  const w = new ByteWriter(size);
  writeSslRequestHead(w, { ...h, capabilities: caps });
  w.bytesNul(user);
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) w.bytesLenenc(auth);
  else if (caps & CLIENT_SECURE_CONNECTION) w.u8(auth.length).bytes(auth);
  else w.bytesNul(auth);
  if (db) w.bytesNul(db);
  if (plugin) w.bytesNul(plugin);
  if (attrs) {
    w.lenenc(attrsLength);
    for (const [k, v] of attrs) w.bytesLenenc(k).bytesLenenc(v);
  }
  if (zstd) w.u8(h.zstdCompressionLevel ?? 3);
  return w.finish();
}

export function decodeHandshakeResponse41(payload: Buffer): HandshakeResponse41 {
  const r = new ByteReader(payload);
  const head = readSslRequestHead(r);
  const caps = head.capabilities;
  if ((caps & CLIENT_PROTOCOL_41) === 0) {
    throw new ProtocolError('ERR_UNSUPPORTED', 'pre-4.1 handshake response (no CLIENT_PROTOCOL_41) is not supported');
  }
  const user = r.strNul('username');
  let authResponse: Buffer;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.bytesLenenc('auth response');
  else if (caps & CLIENT_SECURE_CONNECTION) authResponse = r.bytes(r.u8('auth response length'), 'auth response');
  else authResponse = r.bytesNul('auth response');
  let database: string | null = null;
  if (caps & CLIENT_CONNECT_WITH_DB && r.remaining > 0) database = r.strNul('database');
  let authPluginName: string | null = null;
  if (caps & CLIENT_PLUGIN_AUTH && r.remaining > 0) authPluginName = r.strNul('auth plugin name');
  let connectAttributes: Map<string, string> | null = null;
  if (caps & CLIENT_CONNECT_ATTRS && r.remaining > 0) {
    const total = r.lenencNumber('connect attributes length');
    r.need(total, 'connect attributes');
    const ar = new ByteReader(payload, r.pos, r.pos + total);
    r.skip(total);
    connectAttributes = new Map();
    while (ar.remaining > 0) {
      const k = ar.strLenenc('connect attribute key');
      const v = ar.strLenenc('connect attribute value');
      connectAttributes.set(k, v);
    }
  }
  let zstdCompressionLevel: number | null = null;
  if (caps & CLIENT_ZSTD_COMPRESSION_ALGORITHM) zstdCompressionLevel = r.u8('zstd compression level');
  return { ...head, user, authResponse, database, authPluginName, connectAttributes, zstdCompressionLevel };
}

/*
 * SSLRequest layout (32 bytes, seq 1; TLS starts right after it)
 *   4   client capability flags (with CLIENT_SSL)
 *   4   max_packet_size
 *   1   character_set
 *   19  filler zeros
 *   4   MariaDB extended capabilities or zeros
 */
export interface SslRequest {
  capabilities: number;
  maxPacketSize: number;
  charset: number;
  mariadbExtendedCapabilities: number;
}

export function encodeSslRequest(s: Omit<SslRequest, 'mariadbExtendedCapabilities'> & { mariadbExtendedCapabilities?: number }): Buffer {
  const w = new ByteWriter(SSL_REQUEST_SIZE);
  writeSslRequestHead(w, { ...s, capabilities: u32(s.capabilities | CLIENT_SSL) });
  return w.finish();
}

export function decodeSslRequest(payload: Buffer): SslRequest {
  if (payload.length !== SSL_REQUEST_SIZE) {
    throw new ProtocolError('ERR_MALFORMED', `SSLRequest must be ${SSL_REQUEST_SIZE} bytes, got ${payload.length}`);
  }
  const head = readSslRequestHead(new ByteReader(payload));
  if ((head.capabilities & CLIENT_SSL) === 0) throw new ProtocolError('ERR_MALFORMED', 'SSLRequest without CLIENT_SSL');
  return head;
}

/** True when the client's first packet is an SSLRequest (32 bytes with CLIENT_SSL) rather than a full response. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === SSL_REQUEST_SIZE && (payload.readUInt32LE(0) & CLIENT_SSL) !== 0;
}

function writeSslRequestHead(w: ByteWriter, s: { capabilities: number; maxPacketSize: number; charset: number; mariadbExtendedCapabilities?: number }): void {
  w.u32(s.capabilities).u32(s.maxPacketSize).u8(s.charset).zeros(19).u32(s.mariadbExtendedCapabilities ?? 0);
}

function readSslRequestHead(r: ByteReader): SslRequest {
  const capabilities = r.u32('client capability flags');
  const maxPacketSize = r.u32('max_packet_size');
  const charset = r.u8('character_set');
  r.skip(19, 'filler');
  const ext = r.u32('filler / MariaDB capabilities');
  return { capabilities, maxPacketSize, charset, mariadbExtendedCapabilities: ext };
}

// ---------------------------------------------------------------------------------------------------
// AuthSwitchRequest and AuthMoreData
// ---------------------------------------------------------------------------------------------------

/*
 * AuthSwitchRequest layout
 *   1         0xfe
 *   str<NUL>  plugin name
 *   str<EOF>  plugin data (for mysql_native_password and caching_sha2_password: the 20-byte nonce + 0x00)
 * A payload that is the single byte 0xfe is the pre-4.1 "old password" switch: it decodes as plugin
 * `mysql_old_password` with no data, which a client must refuse.
 */
export interface AuthSwitchRequest {
  pluginName: string;
  data: Buffer;
}

export const MYSQL_OLD_PASSWORD = 'mysql_old_password';

export function encodeAuthSwitchRequest(a: AuthSwitchRequest): Buffer {
  const name = Buffer.from(a.pluginName, 'utf8');
  return new ByteWriter(1 + name.length + 1 + a.data.length).u8(AUTH_SWITCH_HEADER).bytesNul(name).bytes(a.data).finish();
}

export function decodeAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new ByteReader(payload);
  const h = r.u8('header');
  if (h !== AUTH_SWITCH_HEADER) throw new ProtocolError('ERR_MALFORMED', `not an AuthSwitchRequest: header 0x${h.toString(16)}`);
  if (r.remaining === 0) return { pluginName: MYSQL_OLD_PASSWORD, data: Buffer.alloc(0) };
  const pluginName = r.strNul('auth plugin name');
  return { pluginName, data: r.rest() };
}

/** The auth-switch data without the trailing NUL that servers append to the nonce. */
export function authDataNonce(data: Buffer): Buffer {
  return data.length > 0 && data[data.length - 1] === 0 ? data.subarray(0, data.length - 1) : data;
}

/*
 * AuthMoreData layout
 *   1         0x01
 *   str<EOF>  data (caching_sha2_password: 0x03 fast_auth_success, 0x04 perform_full_authentication, or a
 *             PEM public key)
 */
export function encodeAuthMoreData(data: Buffer): Buffer {
  return new ByteWriter(1 + data.length).u8(AUTH_MORE_DATA_HEADER).bytes(data).finish();
}

export function decodeAuthMoreData(payload: Buffer): Buffer {
  const r = new ByteReader(payload);
  const h = r.u8('header');
  if (h !== AUTH_MORE_DATA_HEADER) throw new ProtocolError('ERR_MALFORMED', `not an AuthMoreData packet: header 0x${h.toString(16)}`);
  return r.rest();
}
