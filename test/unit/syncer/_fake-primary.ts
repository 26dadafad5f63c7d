/**
 * A scripted MySQL 8.0 primary on a loopback socket, made of our own server-side codecs, that serves real
 * binlog fixture files the way MySQL's Binlog_sender does: COM_BINLOG_DUMP from a file and position, and
 * COM_BINLOG_DUMP_GTID (start at the newest file whose PREVIOUS_GTIDS the request contains, skip the groups it
 * contains, send a heartbeat carrying the position after skipping), heartbeats v2 while idle. It lets the
 * MySQL code path of the syncer run end to end without a MySQL server.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { nativePasswordHash, verifyNativePassword } from '../../../protocol/auth.js';
import {
  BINLOG_CHECKSUM_ALG_CRC32,
  buildFakeRotate,
  buildHeartbeatV2,
  decodePreviousGtids,
  readBinlogFile,
  restampFde,
  TransactionTracker,
} from '../../../protocol/binlog/index.js';
import { decodeComBinlogDump, decodeComBinlogDumpGtid } from '../../../protocol/commands.js';
import { COM_BINLOG_DUMP, COM_BINLOG_DUMP_GTID, COM_QUERY, COM_QUIT, COM_REGISTER_SLAVE, MYSQL_NATIVE_PASSWORD } from '../../../protocol/constants.js';
import { encodeErr, encodeOk } from '../../../protocol/generic.js';
import { MysqlGtidSet, type MysqlGtid } from '../../../protocol/gtid/mysql.js';
import { decodeHandshakeResponse41, encodeHandshakeV10, MYSQL_SERVER_CAPABILITIES } from '../../../protocol/handshake.js';
import { encodePacket, frameEventPacket, PacketReader } from '../../../protocol/packet.js';
import { encodeTextResultSet, stringColumn } from '../../../protocol/resultset.js';
import type { DumpFile } from './_dump.js';

interface Group {
  start: number;
  end: number;
  gtid: MysqlGtid | null;
}

export interface DumpRequest {
  kind: 'file' | 'gtid';
  file: string;
  pos: number;
  gtids: string | null;
  flags: number;
  serverId: number;
}

export class FakeMysqlPrimary {
  readonly statements: string[] = [];
  readonly dumps: DumpRequest[] = [];
  readonly sockets = new Set<net.Socket>();
  port = 0;
  private server: net.Server | null = null;
  private readonly groups = new Map<string, Group[]>();

  constructor(
    readonly files: DumpFile[],
    readonly opts: { user: string; password: string; serverId: number; serverUuid: string; version: string },
  ) {
    for (const f of files) {
      const t = new TransactionTracker();
      const gs: Group[] = [];
      let open = -1;
      for (const e of readBinlogFile(f.buf)) {
        const r = t.push(e.event, e.fde);
        if (!r.complete && r.role === 'start') open = e.pos;
        if (r.complete) {
          gs.push({ start: open >= 0 ? open : e.pos, end: e.pos + e.event.raw.length, gtid: (r.gtid as MysqlGtid | undefined) ?? null });
          open = -1;
        }
      }
      this.groups.set(f.name, gs);
    }
  }

  async listen(): Promise<number> {
    this.server = net.createServer((sock) => this.session(sock));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Drops every connection (a network cut / killed dump thread). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private session(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    const reader = new PacketReader({ checkSequence: false });
    const nonce = randomBytes(20);
    const write = (payload: Buffer, seq: number): void => {
      for (const f of encodePacket(payload, seq).frames) sock.write(f);
    };
    write(
      encodeHandshakeV10({
        serverVersion: this.opts.version,
        connectionId: 1,
        nonce,
        capabilities: MYSQL_SERVER_CAPABILITIES,
        charset: 255,
        statusFlags: 2,
        authPluginName: MYSQL_NATIVE_PASSWORD,
      }),
      0,
    );
    let authed = false;
    let heartbeatNs = 0n;
    let dumping = false;
    const caps = MYSQL_SERVER_CAPABILITIES;
    const ok = (seq: number): void => write(encodeOk({ statusFlags: 2 }, { capabilities: caps }), seq);
    sock.on('data', (d: Buffer) => {
      reader.push(d);
      for (let p = reader.next(); p; p = reader.next()) {
        const { payload, seq } = p;
        if (!authed) {
          const hr = decodeHandshakeResponse41(payload);
          if (hr.user !== this.opts.user || !verifyNativePassword(hr.authResponse, nonce, nativePasswordHash(this.opts.password))) {
            write(encodeErr({ code: 1045, sqlState: '28000', message: `Access denied for user '${hr.user}'` }), seq + 1);
            sock.end();
            return;
          }
          authed = true;
          ok(seq + 1);
          continue;
        }
        if (dumping) continue;
        const cmd = payload[0];
        if (cmd === COM_QUERY) {
          const sql = payload.subarray(1).toString('utf8');
          this.statements.push(sql);
          const m = /@master_heartbeat_period = (\d+)/.exec(sql);
          if (m) heartbeatNs = BigInt(m[1]!);
          this.answer(sql, (p2, s2) => write(p2, s2), seq);
        } else if (cmd === COM_REGISTER_SLAVE) {
          ok(1);
        } else if (cmd === COM_BINLOG_DUMP || cmd === COM_BINLOG_DUMP_GTID) {
          dumping = true;
          void this.dump(sock, payload, Number(heartbeatNs / 1_000_000n));
        } else if (cmd === COM_QUIT) {
          sock.end();
        } else {
          write(encodeErr({ code: 1047, message: 'Unknown command' }), 1);
        }
      }
    });
  }

  private answer(sql: string, write: (p: Buffer, seq: number) => void, seq: number): void {
    const caps = MYSQL_SERVER_CAPABILITIES;
    const rows = (names: string[], values: string[][]): void =>
      encodeTextResultSet({ columns: names.map((n) => stringColumn(n)), rows: values }, { capabilities: caps }).forEach((p, i) => write(p, seq + 1 + i));
    if (sql.startsWith('SET ')) {
      write(encodeOk({ statusFlags: 2 }, { capabilities: caps }), seq + 1);
    } else if (sql.startsWith('SELECT @master_binlog_checksum')) {
      rows(['a', 'b', 'c', 'd', 'e', 'f'], [['CRC32', String(this.opts.serverId), this.opts.serverUuid, 'ON', this.opts.version, String(Math.floor(Date.now() / 1000))]]);
    } else if (sql === 'SHOW BINARY LOGS') {
      rows(['Log_name', 'File_size', 'Encrypted'], this.files.map((f) => [f.name, String(f.buf.length), 'No']));
    } else if (sql.startsWith('SELECT @@global.rpl_semi_sync')) {
      write(encodeErr({ code: 1193, message: 'Unknown system variable' }), seq + 1);
    } else {
      write(encodeErr({ code: 1064, sqlState: '42000', message: `fake primary cannot answer: ${sql}` }), seq + 1);
    }
  }

  private async dump(sock: net.Socket, payload: Buffer, heartbeatMs: number): Promise<void> {
    let seq = 1;
    const send = (event: Buffer): void => {
      for (const f of frameEventPacket(event, seq)) sock.write(f);
      seq = (seq + 1) & 0xff;
    };
    let fileIdx: number;
    let pos: number;
    let skip: MysqlGtidSet | null = null;
    if (payload[0] === COM_BINLOG_DUMP_GTID) {
      const d = decodeComBinlogDumpGtid(payload);
      skip = MysqlGtidSet.decode(d.gtidData);
      this.dumps.push({ kind: 'gtid', file: d.fileName, pos: Number(d.position), gtids: skip.toString(), flags: d.flags, serverId: d.serverId });
      fileIdx = 0;
      for (let i = 0; i < this.files.length; i++) {
        const prev = decodePreviousGtids([...readBinlogFile(this.files[i]!.buf)][1]!.event, BINLOG_CHECKSUM_ALG_CRC32).gtidSet;
        if (skip.containsSet(prev)) fileIdx = i;
      }
      pos = 4;
    } else {
      const d = decodeComBinlogDump(payload);
      this.dumps.push({ kind: 'file', file: d.fileName, pos: d.position, gtids: null, flags: d.flags, serverId: d.serverId });
      fileIdx = this.files.findIndex((f) => f.name === d.fileName);
      pos = d.position;
    }
    for (; fileIdx < this.files.length; fileIdx++) {
      const f = this.files[fileIdx]!;
      send(buildFakeRotate({ serverId: this.opts.serverId, position: BigInt(pos), fileName: f.name, checksum: true }));
      const events = [...readBinlogFile(f.buf)];
      if (pos > 4) send(restampFde(events[0]!.event.raw, { clearInUse: true, zeroLogPosAndCreated: true }));
      const groups = this.groups.get(f.name)!;
      let skipping: Group | null = null;
      let skipped = false;
      for (const e of events) {
        if (e.pos < pos) continue;
        const g = groups.find((x) => x.start === e.pos);
        if (g && skip && g.gtid && skip.contains(g.gtid)) skipping = g;
        if (skipping) {
          if (e.pos + e.event.raw.length === skipping.end) {
            skipping = null;
            skipped = true;
          }
          continue;
        }
        if (skipped) {
          send(buildHeartbeatV2({ serverId: this.opts.serverId, fileName: f.name, position: BigInt(e.pos), checksum: true }));
          skipped = false;
        }
        send(e.pos === 4 ? restampFde(e.event.raw, { clearInUse: true, zeroLogPosAndCreated: false }) : e.event.raw);
      }
      if (skipped) send(buildHeartbeatV2({ serverId: this.opts.serverId, fileName: f.name, position: BigInt(f.buf.length), checksum: true }));
      pos = 4;
    }
    // Caught up: heartbeats while idle, until the connection goes.
    const last = this.files.at(-1)!;
    while (!sock.destroyed && heartbeatMs > 0) {
      await new Promise((r) => setTimeout(r, heartbeatMs));
      if (sock.destroyed) break;
      send(buildHeartbeatV2({ serverId: this.opts.serverId, fileName: last.name, position: BigInt(last.buf.length), checksum: true }));
    }
  }
}
