// A tiny MySQL-protocol server over our own protocol/ codecs, for driving the real mysql2 client in discovery
// tests without mariadbd: it greets, accepts (or refuses) any login, and answers COM_QUERY from a function.
// Also a "blackhole" that accepts TCP connections and never says anything. Both listen on 127.0.0.1 only.
import net from 'node:net';
import { COM_PING, COM_QUERY, COM_QUIT, MYSQL_NATIVE_PASSWORD, UTF8MB4_GENERAL_CI } from '../../../protocol/constants.js';
import { encodeErr, encodeOk } from '../../../protocol/generic.js';
import { MYSQL_SERVER_CAPABILITIES, decodeHandshakeResponse41, encodeHandshakeV10, generateNonce } from '../../../protocol/handshake.js';
import { PacketReader, framePacket } from '../../../protocol/packet.js';
import { decodeComQuery } from '../../../protocol/commands.js';
import { encodeTextResultSet, stringColumn, type TextValue } from '../../../protocol/resultset.js';

export type FakeReply =
  | { rows: Array<Record<string, TextValue>>; columns?: string[] }
  | { error: { code: number; sqlState?: string; message: string } }
  | { hang: true };

export interface FakeServerOptions {
  version?: string;
  /** Called with the login user; return an error to refuse the login. */
  login?: (user: string) => { code: number; sqlState?: string; message: string } | null;
  /** Answers one statement (unknown ones: ERR 1064). */
  query?: (sql: string) => FakeReply;
}

export interface FakeServer {
  port: number;
  queries: string[];
  close(): Promise<void>;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new Error('no TCP address'));
      else resolve(addr.port);
    });
  });
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

export async function startFakeMysqlServer(opts: FakeServerOptions): Promise<FakeServer> {
  const queries: string[] = [];
  const sockets = new Set<net.Socket>();
  let connectionId = 1;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const reader = new PacketReader({ checkSequence: false });
    let authed = false;
    let caps = MYSQL_SERVER_CAPABILITIES;
    const send = (payloads: Buffer[], firstSeq: number): void => {
      payloads.forEach((p, i) => socket.write(framePacket(p, (firstSeq + i) & 0xff)));
    };
    socket.write(
      framePacket(
        encodeHandshakeV10({
          serverVersion: opts.version ?? '10.11.19-MariaDB-fake',
          connectionId: connectionId++,
          nonce: generateNonce(),
          capabilities: MYSQL_SERVER_CAPABILITIES,
          charset: UTF8MB4_GENERAL_CI,
          statusFlags: 2,
          authPluginName: MYSQL_NATIVE_PASSWORD,
        }),
        0,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      for (let packet = reader.next(); packet !== undefined; packet = reader.next()) {
        const { payload } = packet;
        if (!authed) {
          const response = decodeHandshakeResponse41(payload);
          caps = (response.capabilities & MYSQL_SERVER_CAPABILITIES) >>> 0;
          const refusal = opts.login?.(response.user) ?? null;
          if (refusal !== null) {
            send([encodeErr(refusal)], packet.seq + 1);
            socket.end();
            return;
          }
          authed = true;
          send([encodeOk({ statusFlags: 2 }, { capabilities: caps })], packet.seq + 1);
          continue;
        }
        const command = payload[0];
        if (command === COM_QUIT) {
          socket.end();
          return;
        }
        if (command === COM_PING) {
          send([encodeOk({ statusFlags: 2 }, { capabilities: caps })], 1);
          continue;
        }
        if (command !== COM_QUERY) {
          send([encodeErr({ code: 1047, sqlState: '08S01', message: 'Unknown command' })], 1);
          continue;
        }
        const { sql } = decodeComQuery(payload);
        queries.push(sql);
        const reply = opts.query?.(sql) ?? { error: { code: 1064, sqlState: '42000', message: `You have an error in your SQL syntax near '${sql}'` } };
        if ('hang' in reply) continue;
        if ('error' in reply) {
          send([encodeErr({ sqlState: '42000', ...reply.error })], 1);
          continue;
        }
        const names = reply.columns ?? Object.keys(reply.rows[0] ?? { Value: null });
        const rs = encodeTextResultSet(
          { columns: names.map((n) => stringColumn(n)), rows: reply.rows.map((r) => names.map((n) => r[n] ?? null)) },
          { capabilities: caps },
        );
        send(rs, 1);
      }
    });
  });
  const port = await listen(server);
  return { port, queries, close: closer(server, sockets) };
}

/** Accepts TCP connections and never answers: an "unroutable"/hung host, but on loopback. */
export async function startBlackhole(): Promise<{ port: number; accepted: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  const port = await listen(server);
  return { port, accepted: () => accepted, close: closer(server, sockets) };
}

/** A port that was free a moment ago and has no listener now: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
