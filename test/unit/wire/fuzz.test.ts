import { describe, it, expect } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import { PacketReader, frameEventPacket, framePacket } from '../../../protocol/packet.js';
import {
  decodeAuthMoreData,
  decodeAuthSwitchRequest,
  decodeHandshakeResponse41,
  decodeHandshakeV10,
  decodeSslRequest,
  encodeHandshakeResponse41,
  encodeHandshakeV10,
  encodeSslRequest,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
  MYSQL_SERVER_CAPABILITIES,
} from '../../../protocol/handshake.js';
import { decodeClearPassword, encodeClearPassword, parseNativePasswordHash } from '../../../protocol/auth.js';
import { MysqlServerError, decodeEof, decodeErr, decodeOk, encodeEof, encodeErr, encodeOk } from '../../../protocol/generic.js';
import {
  TextResultSetDecoder,
  decodeColumnDefinition,
  decodeTextRow,
  encodeTextResultSet,
  encodeTextRow,
  integerColumn,
  stringColumn,
} from '../../../protocol/resultset.js';
import {
  decodeComBinlogDump,
  decodeComBinlogDumpGtid,
  decodeComInitDb,
  decodeComProcessKill,
  decodeComQuery,
  decodeComRegisterSlave,
  decodeComSetOption,
  decodeSemiSyncAck,
  decodeSemiSyncEventPacket,
  encodeComBinlogDump,
  encodeComBinlogDumpGtid,
  encodeComInitDb,
  encodeComProcessKill,
  encodeComQuery,
  encodeComRegisterSlave,
  encodeComSetOption,
  encodeSemiSyncAck,
} from '../../../protocol/commands.js';
import * as C from '../../../protocol/constants.js';
import { prng } from '../../helpers/prng.js';


const SPECIAL = [0x00, 0x01, 0x03, 0x0c, 0x15, 0x1e, 0x23, 0xef, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];

function randomBuffer(rnd: () => number, maxLen: number): Buffer {
  const n = Math.floor(rnd() * maxLen);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = rnd() < 0.3 ? SPECIAL[Math.floor(rnd() * SPECIAL.length)]! : Math.floor(rnd() * 256);
  return b;
}

function mutate(rnd: () => number, src: Buffer): Buffer {
  let b = Buffer.from(src);
  const ops = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < ops; k++) {
    const op = Math.floor(rnd() * 5);
    const at = Math.floor(rnd() * (b.length + 1));
    if (op === 0 && b.length > 0) b[Math.min(at, b.length - 1)] = Math.floor(rnd() * 256);
    else if (op === 1 && b.length > 0) b[Math.min(at, b.length - 1)] = SPECIAL[Math.floor(rnd() * SPECIAL.length)]!;
    else if (op === 2) b = b.subarray(0, at);
    else if (op === 3) b = Buffer.concat([b.subarray(0, at), randomBuffer(rnd, 12), b.subarray(at)]);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rnd() * 8)))]);
  }
  return b;
}

/** Runs `fn`; anything thrown must be a ProtocolError (or satisfy `allowed`). */
function survive(fn: () => unknown, allowed?: (e: unknown) => boolean): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolError) return;
    if (allowed?.(e)) return;
    throw new Error(`non-ProtocolError escaped: ${String(e)}`, { cause: e });
  }
}

const ALL_CAPS = 0xffffffff;
const P41 = C.CLIENT_PROTOCOL_41;

const samples: Record<string, Buffer[]> = {
  greeting: [
    encodeHandshakeV10({ serverVersion: '8.0.40', connectionId: 1, nonce: Buffer.alloc(20, 0x41), capabilities: MYSQL_SERVER_CAPABILITIES, charset: 255, statusFlags: 2, authPluginName: 'caching_sha2_password' }),
    encodeHandshakeV10({ serverVersion: '5.5.5-10.11.9-MariaDB', connectionId: 1, nonce: Buffer.alloc(20, 0x42), capabilities: 0x81fff7fe, charset: 45, statusFlags: 2, authPluginName: 'mysql_native_password', mariadbExtendedCapabilities: 0x1d }),
  ],
  response: [
    encodeHandshakeResponse41({
      capabilities: ALL_CAPS & ~C.CLIENT_ZSTD_COMPRESSION_ALGORITHM,
      maxPacketSize: 1 << 24,
      charset: 45,
      user: 'repl',
      authResponse: Buffer.alloc(20, 1),
      database: 'db',
      authPluginName: 'mysql_native_password',
      connectAttributes: [['program_name', 'mysqld'], ['_client_role', 'binary_log_listener']],
    }),
    encodeHandshakeResponse41({ capabilities: P41 | C.CLIENT_SECURE_CONNECTION | C.CLIENT_ZSTD_COMPRESSION_ALGORITHM, maxPacketSize: 0, charset: 0, user: 'u', authResponse: Buffer.alloc(5, 2) }),
  ],
  ssl: [encodeSslRequest({ capabilities: MYSQL_SERVER_CAPABILITIES, maxPacketSize: 1 << 24, charset: 45 })],
  authSwitch: [encodeAuthSwitchRequest({ pluginName: 'mysql_native_password', data: Buffer.alloc(21, 0x43) })],
  ok: [
    encodeOk({ affectedRows: 5, lastInsertId: 70000, statusFlags: 2, info: 'Rows matched: 1' }, { capabilities: P41 }),
    encodeOk({ statusFlags: 2, info: 'x', sessionState: Buffer.from('000f0a6175746f636f6d6d6974034f4646', 'hex') }, { capabilities: P41 | C.CLIENT_SESSION_TRACK }),
  ],
  err: [encodeErr({ code: 1236, sqlState: 'HY000', message: 'Could not find first log file name in binary log index file' })],
  eof: [encodeEof({ warnings: 1, statusFlags: 2 })],
  register: [encodeComRegisterSlave({ serverId: 2, host: 'replica', user: 'u', password: 'p', port: 3306 })],
  dump: [encodeComBinlogDump({ position: 4, flags: 2, serverId: 3, fileName: 'binlog.000001' })],
  dumpGtid: [
    encodeComBinlogDumpGtid({
      flags: 2,
      serverId: 2,
      fileName: '',
      position: 4n,
      gtidData: Buffer.from('01000000000000003e11fa4771ca11e19e33c80aa9429562010000000000000001000000000000000600000000000000', 'hex'),
    }),
  ],
  ack: [encodeSemiSyncAck({ position: 1234n, fileName: 'binlog.000002' })],
  query: [encodeComQuery("SET @master_binlog_checksum = @@global.binlog_checksum")],
  initDb: [encodeComInitDb('mysql')],
  setOption: [encodeComSetOption(0)],
  kill: [encodeComProcessKill(42)],
  semiSyncEvent: [Buffer.concat(frameEventPacket(Buffer.alloc(19, 1), 1, { needAck: true })).subarray(4)],
  clearPassword: [encodeClearPassword('secret')],
  authMore: [encodeAuthMoreData(Buffer.from([C.CACHING_SHA2_FAST_AUTH_SUCCESS])), encodeAuthMoreData(Buffer.from('-----BEGIN PUBLIC KEY-----\n'))],
  row5: [encodeTextRow([1, 'abc', null, '', 18446744073709551615n])],
};

const resultSets = [
  ...[P41, P41 | C.CLIENT_DEPRECATE_EOF].map((caps) => ({
    caps,
    payloads: encodeTextResultSet({ columns: [stringColumn('Variable_name'), integerColumn('Value')], rows: [['server_id', 1], ['x', null]] }, { capabilities: caps }),
  })),
];
samples.column = resultSets.flatMap((r) => r.payloads.slice(1, 3));
samples.row = resultSets.flatMap((r) => r.payloads.filter((p) => p[0] === 0x09 || p[0] === 0x01));

type Decoder = (b: Buffer) => unknown;

const decoders: Array<[string, Decoder, keyof typeof samples]> = [
  ['decodeHandshakeV10', decodeHandshakeV10, 'greeting'],
  ['decodeHandshakeResponse41', decodeHandshakeResponse41, 'response'],
  ['decodeSslRequest', decodeSslRequest, 'ssl'],
  ['decodeAuthSwitchRequest', decodeAuthSwitchRequest, 'authSwitch'],
  ['decodeAuthMoreData', decodeAuthMoreData, 'authMore'],
  ['decodeOk (no SESSION_TRACK)', (b) => decodeOk(b, { capabilities: P41 }), 'ok'],
  ['decodeOk (SESSION_TRACK)', (b) => decodeOk(b, { capabilities: P41 | C.CLIENT_SESSION_TRACK }), 'ok'],
  ['decodeErr', decodeErr, 'err'],
  ['decodeEof', decodeEof, 'eof'],
  ['decodeColumnDefinition', decodeColumnDefinition, 'column'],
  ['decodeTextRow(2)', (b) => decodeTextRow(b, 2), 'row'],
  ['decodeTextRow(5)', (b) => decodeTextRow(b, 5), 'row5'],
  ['decodeComQuery', decodeComQuery, 'query'],
  ['decodeComInitDb', decodeComInitDb, 'initDb'],
  ['decodeComSetOption', decodeComSetOption, 'setOption'],
  ['decodeComProcessKill', decodeComProcessKill, 'kill'],
  ['decodeComRegisterSlave', decodeComRegisterSlave, 'register'],
  ['decodeComBinlogDump', decodeComBinlogDump, 'dump'],
  ['decodeComBinlogDumpGtid', decodeComBinlogDumpGtid, 'dumpGtid'],
  ['decodeSemiSyncAck', decodeSemiSyncAck, 'ack'],
  ['decodeSemiSyncEventPacket', decodeSemiSyncEventPacket, 'semiSyncEvent'],
  ['decodeClearPassword', decodeClearPassword, 'clearPassword'],
];

const ROUNDS = 3000;

describe('fuzz: only ProtocolError escapes the decoders', () => {
  for (const [name, decode, kind] of decoders) {
    it(name, () => {
      const rnd = prng(name.length * 7919 + name.charCodeAt(8));
      for (let i = 0; i < ROUNDS; i++) survive(() => decode(randomBuffer(rnd, 80)));
      const seeds = samples[kind]!;
      for (let i = 0; i < ROUNDS; i++) survive(() => decode(mutate(rnd, seeds[i % seeds.length]!)));
      // The unmutated samples themselves decode (the fuzzing starts from valid input).
      for (const s of seeds) expect(() => decode(s)).not.toThrow();
    });
  }

  it('parseNativePasswordHash on random text', () => {
    const rnd = prng(42);
    for (let i = 0; i < ROUNDS; i++) {
      const s = mutate(rnd, Buffer.from('*14E65567ABDB5135D0CFD9A70B3032C179A49EE7')).toString('latin1');
      survive(() => parseNativePasswordHash(s));
    }
  });

  it('TextResultSetDecoder fed random and mutated packet sequences', () => {
    const rnd = prng(7);
    const isServerErr = (payload: Buffer) => (e: unknown) => e instanceof MysqlServerError && payload[0] === 0xff;
    for (let i = 0; i < ROUNDS; i++) {
      const { caps, payloads } = resultSets[i % resultSets.length]!;
      const d = new TextResultSetDecoder({ capabilities: caps });
      for (const p of payloads) {
        const input = rnd() < 0.2 ? mutate(rnd, p) : rnd() < 0.05 ? randomBuffer(rnd, 40) : p;
        let stop = false;
        survive(
          () => {
            try {
              d.push(input);
            } catch (e) {
              stop = true;
              throw e;
            }
          },
          isServerErr(input),
        );
        if (stop || d.done) break;
      }
    }
  });
});

describe('fuzz: PacketReader', () => {
  it('random byte streams in random chunks only raise ProtocolError and never loop', () => {
    const rnd = prng(99);
    for (let i = 0; i < 2000; i++) {
      const reader = new PacketReader({ maxPacketSize: rnd() < 0.5 ? 1 << 20 : 300, checkSequence: rnd() < 0.5 });
      const stream = randomBuffer(rnd, 600);
      let off = 0;
      survive(() => {
        while (off < stream.length) {
          const n = 1 + Math.floor(rnd() * 64);
          reader.push(stream.subarray(off, off + n));
          off += n;
          let guard = 0;
          while (reader.next()) if (++guard > stream.length + 1) throw new Error('PacketReader did not make progress');
        }
      });
    }
  });

  it('mutated valid streams only raise ProtocolError', () => {
    const rnd = prng(1234);
    const valid = Buffer.concat(Object.values(samples).flat().map((p, i) => framePacket(p, i & 0xff)));
    for (let i = 0; i < 1000; i++) {
      const reader = new PacketReader({ maxPacketSize: 4096 });
      const stream = mutate(rnd, valid);
      survive(() => {
        for (let off = 0; off < stream.length; off += 97) {
          reader.push(stream.subarray(off, off + 97));
          while (reader.next());
        }
      });
    }
  });
});
