/**
 * The TCP listener: binds, hands each accepted socket to the server, stops accepting on close. Bind
 * failures become ServerError ERR_LISTEN with the operating system's message.
 */
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { ServerError } from './errors.js';

export class Listener {
  private server: Server | null = null;
  private bound: AddressInfo | null = null;

  constructor(
    private readonly onConnection: (socket: Socket) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  get address(): AddressInfo | null {
    return this.bound;
  }

  /** `host:port` as bound (IPv6 in brackets), or null when not listening. */
  get addressText(): string | null {
    const a = this.bound;
    if (!a) return null;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.server) throw new ServerError('ERR_ALREADY_RUNNING', 'the listener is already bound');
    const server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, this.onConnection);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        server.off('listening', onListening);
        reject(
          new ServerError('ERR_LISTEN', `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host, port, exclusive: true });
    });
    server.on('error', this.onError);
    this.server = server;
    this.bound = server.address() as AddressInfo;
    return this.bound;
  }

  /** Stops accepting; resolves when the listening socket is closed (open connections are the server's). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.bound = null;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
    });
  }
}
