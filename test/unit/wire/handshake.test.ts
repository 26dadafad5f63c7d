import { describe, it, expect } from 'vitest';
import {
  MARIADB_SERVER_CAPABILITIES,
  MYSQL_OLD_PASSWORD,
  MYSQL_SERVER_CAPABILITIES,
  UPSTREAM_CLIENT_CAPABILITIES,
  authDataNonce,
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeResponse41,
  decodeHandshakeV10,
  decodeSslRequest,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  encodeHandshakeResponse41,
  encodeHandshakeV10,
  encodeSslRequest,
  generateNonce,
  isSslRequest,
  withTls,
} from '../../../protocol/handshake.js';
import * as C from '../../../protocol/constants.js';
import { ProtocolError } from '../../../protocol/errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]+/g, ''), 'hex');

// Captured on 2026-11-21 from MariaDB 10.11.19 (Debian 12 package), connection id 4.
const MARIADB_1011_GREETING = hex(`
  0a | 352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100 | 04000000 | 2957593a54792752 | 00 |
  fef7 | 08 | 0200 | ff81 | 15 | 000000000000 | 1d000000 | 46497c546d4a684c2265596d00 |
  6d7973716c5f6e61746976655f70617373776f726400`);

// Laid out by hand from the HandshakeV10 table as a MySQL 8.0.40 server sends it.
const MYSQL_80_NONCE = Buffer.from('abcdefgh' + 'ijklmnopqrst', 'latin1');
const MYSQL_80_GREETING = hex(`
  0a | 382e302e343000 | 0a000000 | 6162636465666768 | 00 | ffff | ff | 0200 | ffdf | 15 | 00000000000000000000 |
  696a6b6c6d6e6f7071727374 00 | 63616368696e675f736861325f70617373776f726400`);

describe('HandshakeV10', () => {
  it('decodes a MariaDB 10.11 greeting (extended capabilities, CLIENT_MYSQL clear)', () => {
    const g = decodeHandshakeV10(MARIADB_1011_GREETING);
    expect(g.protocolVersion).toBe(10);
    expect(g.serverVersion).toBe('5.5.5-10.11.19-MariaDB-0+deb12u1');
    expect(g.connectionId).toBe(4);
    expect(g.nonce.toString('hex')).toBe('2957593a54792752' + '46497c546d4a684c2265596d');
    expect(g.capabilities).toBe(0x81fff7fe);
    expect(g.capabilities & C.CLIENT_LONG_PASSWORD).toBe(0);
    expect(g.mariadbExtendedCapabilities).toBe(0x1d);
    expect(g.charset).toBe(8);
    expect(g.statusFlags).toBe(C.SERVER_STATUS_AUTOCOMMIT);
    expect(g.authPluginName).toBe(C.MYSQL_NATIVE_PASSWORD);
  });

  it('re-encodes the MariaDB greeting byte for byte', () => {
    expect(encodeHandshakeV10(decodeHandshakeV10(MARIADB_1011_GREETING)).equals(MARIADB_1011_GREETING)).toBe(true);
  });

  it('encodes a MySQL 8.0 greeting byte for byte', () => {
    const bytes = encodeHandshakeV10({
      serverVersion: '8.0.40',
      connectionId: 10,
      nonce: MYSQL_80_NONCE,
      capabilities: 0xdfffffff,
      charset: C.UTF8MB4_0900_AI_CI,
      statusFlags: C.SERVER_STATUS_AUTOCOMMIT,
      authPluginName: C.CACHING_SHA2_PASSWORD,
    });
    expect(bytes.toString('hex')).toBe(MYSQL_80_GREETING.toString('hex'));
    const g = decodeHandshakeV10(bytes);
    expect(g.nonce.equals(MYSQL_80_NONCE)).toBe(true);
    expect(g.capabilities).toBe(0xdfffffff);
    expect(g.mariadbExtendedCapabilities).toBe(0); // CLIENT_MYSQL set: the reserved bytes mean nothing
    expect(g.authPluginName).toBe(C.CACHING_SHA2_PASSWORD);
  });

  it('round-trips our own greetings for both flavours', () => {
    for (const caps of [MYSQL_SERVER_CAPABILITIES, MARIADB_SERVER_CAPABILITIES, withTls(MYSQL_SERVER_CAPABILITIES)]) {
      const nonce = generateNonce();
      const g = decodeHandshakeV10(
        encodeHandshakeV10({ serverVersion: '5.5.5-10.11.9-MariaDB-proxy', connectionId: 0xfffffffe, nonce, capabilities: caps, charset: 45, statusFlags: 2, authPluginName: 'mysql_native_password' }),
      );
      expect(g.capabilities).toBe(caps >>> 0);
      expect(g.connectionId).toBe(0xfffffffe);
      expect(g.nonce.equals(nonce)).toBe(true);
    }
  });

  it('decodes a greeting without CLIENT_PLUGIN_AUTH (auth data length 0, no plugin name)', () => {
    // caps 0x8201 = LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION; auth data length 0; 12 nonce bytes + NUL.
    const b = hex(`0a 352e352e363000 01000000 6162636465666768 00 0182 21 0200 0000 00 00000000000000000000 696a6b6c6d6e6f707172737400`);
    const g = decodeHandshakeV10(b);
    expect(g.authPluginName).toBeNull();
    expect(g.nonce.toString('latin1')).toBe('abcdefghijklmnopqrst');
    expect(g.charset).toBe(0x21);
  });

  it('accepts a plugin name without its NUL (MySQL 5.5 bug)', () => {
    const g = decodeHandshakeV10(MYSQL_80_GREETING.subarray(0, MYSQL_80_GREETING.length - 1));
    expect(g.authPluginName).toBe(C.CACHING_SHA2_PASSWORD);
  });

  it('decodes a greeting that ends after the low capability flags', () => {
    const g = decodeHandshakeV10(MARIADB_1011_GREETING.subarray(0, 1 + 33 + 4 + 8 + 1 + 2));
    expect(g.nonce.length).toBe(8);
    expect(g.authPluginName).toBeNull();
  });

  it('rejects other protocol versions and truncation with ProtocolError', () => {
    const v9 = Buffer.from(MARIADB_1011_GREETING);
    v9[0] = 9;
    expect(() => decodeHandshakeV10(v9)).toThrow(ProtocolError);
    expect(() => decodeHandshakeV10(MARIADB_1011_GREETING.subarray(0, 20))).toThrow(ProtocolError);
  });

  it('exports capability sets without COMPRESS, ZSTD, QUERY_ATTRIBUTES, OPTIONAL_RESULTSET_METADATA or SSL', () => {
    for (const caps of [MYSQL_SERVER_CAPABILITIES, MARIADB_SERVER_CAPABILITIES, UPSTREAM_CLIENT_CAPABILITIES]) {
      for (const bad of [C.CLIENT_COMPRESS, C.CLIENT_ZSTD_COMPRESSION_ALGORITHM, C.CLIENT_QUERY_ATTRIBUTES, C.CLIENT_OPTIONAL_RESULTSET_METADATA, C.CLIENT_SSL]) {
        expect(caps & bad).toBe(0);
      }
      for (const good of [C.CLIENT_LONG_PASSWORD, C.CLIENT_PROTOCOL_41, C.CLIENT_SECURE_CONNECTION, C.CLIENT_PLUGIN_AUTH, C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, C.CLIENT_DEPRECATE_EOF]) {
        expect(caps & good).toBe(good);
      }
    }
    expect(withTls(MYSQL_SERVER_CAPABILITIES) & C.CLIENT_SSL).toBe(C.CLIENT_SSL);
  });
});

// The response our capture client sent to that MariaDB 10.11 server, which answered OK.
const RESPONSE_WITH_ATTRS = hex(`
  05a23a00 | 00000001 | 2d | 0000000000000000000000000000000000000000000000 | 7265706c00 |
  14 be5b8854fa4b6862807a28d34613a84cb7929be9 | 6d7973716c5f6e61746976655f70617373776f726400 |
  14 0c 5f636c69656e745f6e616d65 06 776972656370`);

describe('HandshakeResponse41', () => {
  it('decodes a response with connect attributes', () => {
    const r = decodeHandshakeResponse41(RESPONSE_WITH_ATTRS);
    expect(r.capabilities).toBe(0x003aa205);
    expect(r.maxPacketSize).toBe(16777216);
    expect(r.charset).toBe(45);
    expect(r.user).toBe('repl');
    expect(r.authResponse.toString('hex')).toBe('be5b8854fa4b6862807a28d34613a84cb7929be9');
    expect(r.database).toBeNull();
    expect(r.authPluginName).toBe('mysql_native_password');
    expect([...r.connectAttributes!]).toEqual([['_client_name', 'wirecp']]);
    expect(r.zstdCompressionLevel).toBeNull();
    expect(encodeHandshakeResponse41(r).equals(RESPONSE_WITH_ATTRS)).toBe(true);
  });

  it('encodes the auth response in all three forms', () => {
    const auth = Buffer.from('0102030405060708090a0b0c0d0e0f1011121314', 'hex');
    const base = C.CLIENT_PROTOCOL_41 | C.CLIENT_LONG_PASSWORD;
    const cases: Array<[number, string]> = [
      [base | C.CLIENT_SECURE_CONNECTION | C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, '14' + auth.toString('hex')],
      [base | C.CLIENT_SECURE_CONNECTION, '14' + auth.toString('hex')],
      [base, auth.toString('hex') + '00'],
    ];
    for (const [caps, authHex] of cases) {
      const b = encodeHandshakeResponse41({ capabilities: caps, maxPacketSize: 0x40000000, charset: 0, user: 'u', authResponse: auth });
      const capsHex = Buffer.from(Uint32Array.of(caps).buffer).toString('hex');
      expect(b.toString('hex')).toBe(capsHex + '00000040' + '00' + '00'.repeat(23) + '7500' + authHex);
      expect(decodeHandshakeResponse41(b).authResponse.equals(auth)).toBe(true);
    }
    const long = Buffer.alloc(300, 7);
    const lenenc = encodeHandshakeResponse41({ capabilities: base | C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, maxPacketSize: 0, charset: 0, user: 'u', authResponse: long });
    expect(lenenc.subarray(34, 37).toString('hex')).toBe('fc2c01');
    expect(decodeHandshakeResponse41(lenenc).authResponse.equals(long)).toBe(true);
    expect(() => encodeHandshakeResponse41({ capabilities: base | C.CLIENT_SECURE_CONNECTION, maxPacketSize: 0, charset: 0, user: 'u', authResponse: long })).toThrow(RangeError);
  });

  it('round-trips database, plugin, attributes as pairs, zstd level and MariaDB extended capabilities', () => {
    const caps =
      C.CLIENT_PROTOCOL_41 | C.CLIENT_SECURE_CONNECTION | C.CLIENT_PLUGIN_AUTH | C.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
      C.CLIENT_CONNECT_WITH_DB | C.CLIENT_CONNECT_ATTRS | C.CLIENT_ZSTD_COMPRESSION_ALGORITHM | C.CLIENT_SSL_VERIFY_SERVER_CERT;
    const attrs: Array<[string, string]> = [
      ['program_name', 'mysqld'],
      ['_client_role', 'binary_log_listener'],
      ['_client_replication_channel_name', ''],
      ['long', 'v'.repeat(300)],
    ];
    const b = encodeHandshakeResponse41({
      capabilities: caps,
      maxPacketSize: 0xffffffff,
      charset: 255,
      mariadbExtendedCapabilities: 0x1d,
      user: 'réplica',
      authResponse: Buffer.alloc(32, 9),
      database: 'db1',
      authPluginName: 'caching_sha2_password',
      connectAttributes: attrs,
      zstdCompressionLevel: 7,
    });
    const r = decodeHandshakeResponse41(b);
    expect(r.capabilities).toBe(caps >>> 0);
    expect(r.maxPacketSize).toBe(0xffffffff);
    expect(r.mariadbExtendedCapabilities).toBe(0x1d);
    expect(r.user).toBe('réplica');
    expect(r.database).toBe('db1');
    expect(r.authPluginName).toBe('caching_sha2_password');
    expect([...r.connectAttributes!]).toEqual(attrs);
    expect(r.zstdCompressionLevel).toBe(7);
    expect(encodeHandshakeResponse41({ ...r, connectAttributes: new Map(attrs) }).equals(b)).toBe(true);
  });

  it('tolerates a response that ends before the optional fields', () => {
    const caps = C.CLIENT_PROTOCOL_41 | C.CLIENT_SECURE_CONNECTION | C.CLIENT_CONNECT_WITH_DB | C.CLIENT_PLUGIN_AUTH | C.CLIENT_CONNECT_ATTRS;
    const full = encodeHandshakeResponse41({ capabilities: caps, maxPacketSize: 0, charset: 0, user: 'u', authResponse: Buffer.alloc(0), database: '', authPluginName: '', connectAttributes: [] });
    const cut = full.subarray(0, 32 + 2 + 1); // user "u\0" and a zero auth length
    const r = decodeHandshakeResponse41(cut);
    expect(r.database).toBeNull();
    expect(r.authPluginName).toBeNull();
    expect(r.connectAttributes).toBeNull();
  });

  it('rejects attributes that overrun their announced length, and pre-4.1 responses', () => {
    const caps = C.CLIENT_PROTOCOL_41 | C.CLIENT_SECURE_CONNECTION | C.CLIENT_CONNECT_ATTRS;
    const good = encodeHandshakeResponse41({ capabilities: caps, maxPacketSize: 0, charset: 0, user: 'u', authResponse: Buffer.alloc(0), connectAttributes: [['k', 'v']] });
    const bad = Buffer.from(good);
    bad[bad.length - 5] = 3; // total length 4 → 3: the value now crosses the end of the block
    expect(() => decodeHandshakeResponse41(bad)).toThrow(ProtocolError);
    const pre41 = Buffer.from(good);
    pre41.writeUInt32LE(C.CLIENT_SECURE_CONNECTION, 0);
    expect(() => decodeHandshakeResponse41(pre41)).toThrow(ProtocolError);
  });
});

describe('SSLRequest', () => {
  it('is the 32-byte head of a response with CLIENT_SSL', () => {
    const b = encodeSslRequest({ capabilities: UPSTREAM_CLIENT_CAPABILITIES, maxPacketSize: 16777216, charset: 45 });
    expect(b.length).toBe(32);
    const capsHex = Buffer.from(Uint32Array.of(withTls(UPSTREAM_CLIENT_CAPABILITIES)).buffer).toString('hex');
    expect(b.toString('hex')).toBe(capsHex + '00000001' + '2d' + '00'.repeat(23));
    expect(isSslRequest(b)).toBe(true);
    expect(decodeSslRequest(b)).toEqual({ capabilities: withTls(UPSTREAM_CLIENT_CAPABILITIES), maxPacketSize: 16777216, charset: 45, mariadbExtendedCapabilities: 0 });
  });

  it('is told apart from a full response', () => {
    expect(isSslRequest(RESPONSE_WITH_ATTRS)).toBe(false);
    const noSsl = Buffer.from(RESPONSE_WITH_ATTRS.subarray(0, 32));
    expect(isSslRequest(noSsl)).toBe(false);
    expect(() => decodeSslRequest(noSsl)).toThrow(ProtocolError);
    expect(() => decodeSslRequest(Buffer.alloc(31))).toThrow(ProtocolError);
  });
});

describe('AuthSwitchRequest and AuthMoreData', () => {
  // Captured from MariaDB 10.11 after a response that named caching_sha2_password.
  const SWITCH = hex('fe 6d7973716c5f6e61746976655f70617373776f726400 37516e574b4f2a2579557a2752474c28226f2d2f 00');

  it('decodes and re-encodes a captured AuthSwitchRequest', () => {
    const a = decodeAuthSwitchRequest(SWITCH);
    expect(a.pluginName).toBe('mysql_native_password');
    expect(a.data.length).toBe(21);
    expect(authDataNonce(a.data).toString('latin1')).toBe('7QnWKO*%yUz\'RGL("o-/');
    expect(encodeAuthSwitchRequest(a).equals(SWITCH)).toBe(true);
  });

  it('decodes the pre-4.1 single-byte switch as mysql_old_password', () => {
    expect(decodeAuthSwitchRequest(Buffer.from([0xfe]))).toEqual({ pluginName: MYSQL_OLD_PASSWORD, data: Buffer.alloc(0) });
  });

  it('rejects a wrong header or an unterminated plugin name', () => {
    expect(() => decodeAuthSwitchRequest(Buffer.from([0x01, 0x41]))).toThrow(ProtocolError);
    expect(() => decodeAuthSwitchRequest(Buffer.from([0xfe, 0x41, 0x42]))).toThrow(ProtocolError);
  });

  it('encodes fast_auth_success as 01 03 and decodes a public key', () => {
    expect(encodeAuthMoreData(Buffer.from([C.CACHING_SHA2_FAST_AUTH_SUCCESS])).toString('hex')).toBe('0103');
    expect(encodeAuthMoreData(Buffer.from([C.CACHING_SHA2_PERFORM_FULL_AUTHENTICATION])).toString('hex')).toBe('0104');
    const pem = '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n';
    expect(decodeAuthMoreData(Buffer.concat([Buffer.from([1]), Buffer.from(pem)])).toString()).toBe(pem);
    expect(() => decodeAuthMoreData(Buffer.from([0x02]))).toThrow(ProtocolError);
    expect(() => decodeAuthMoreData(Buffer.alloc(0))).toThrow(ProtocolError);
  });
});
