// Free TCP ports for tests, picked at run time (never hardcode a port, never use 3306).
//
// The kernel hands out an unused ephemeral port when we listen on port 0; we read it and close the
// listener. Another process can still take the port before our server binds it, so whoever binds
// it later must be ready to retry with a new port on EADDRINUSE (startMariaDB does).
import { createServer, type Server } from 'node:net';

function listenOnEphemeralPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function portOf(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error(`listener has no TCP address: ${String(address)}`);
  }
  return address.port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
  });
}

/** One port that was free on `host` a moment ago. */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await getFreePorts(1, host);
  return port!;
}

/** `count` distinct ports that were free on `host` a moment ago (all held open together while picking). */
export async function getFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1) throw new Error(`getFreePorts: count must be a positive integer, got ${count}`);
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnEphemeralPort(host));
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}
