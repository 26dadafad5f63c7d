/**
 * Instance keys: validation of what a user typed, the one text form (`host:port`, `[v6]:port`), and resolution
 * to the canonical key (orchestrator's ResolveInstanceKey).
 *
 * Canonical key = the address we actually connect to: an IP literal (IPv4 preferred) and the port. Host names
 * are resolved once per probe, so `localhost:3306`, `127.0.0.1:3306` and a replica's `Master_Host=db1` all
 * become one key, and an instance is never stored twice under two spellings.
 */
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import { DiscoveryError } from './errors.js';
import type { InstanceKey } from './types.js';

const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/** Checks a host as given in a URL or by a server (Master_Host, SHOW SLAVE HOSTS): a name, IPv4 or IPv6 (brackets optional). */
export function parseHost(raw: string): string {
  const trimmed = raw.trim();
  const unbracketed = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  if (unbracketed === '') throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', 'invalid host: empty');
  if (isIP(unbracketed) !== 0) return unbracketed.toLowerCase();
  if (!HOSTNAME_RE.test(unbracketed) || /^[0-9.]+$/.test(unbracketed)) {
    throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', `invalid host ${JSON.stringify(truncate(raw))}: not a host name or an IP address`);
  }
  return unbracketed.toLowerCase().replace(/\.$/, '');
}

/** Checks a TCP port: a decimal integer 1..65535 (given as text in a URL, or as a number). */
export function parsePort(raw: string | number): number {
  const text = typeof raw === 'number' ? String(raw) : raw.trim();
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', `invalid port ${JSON.stringify(truncate(String(raw)))}: expected an integer 1-65535`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', `invalid port ${port}: expected an integer 1-65535`);
  }
  return port;
}

export function parseInstanceKey(host: string, port: string | number): InstanceKey {
  return { host: parseHost(host), port: parsePort(port) };
}

/** `host:port`, or `[v6]:port`. */
export function formatKey(key: InstanceKey): string {
  return isIPv6(key.host) ? `[${key.host}]:${key.port}` : `${key.host}:${key.port}`;
}

/** Parses `host:port` / `[v6]:port` (the form `formatKey` writes and cluster hints use). */
export function parseKeyString(text: string): InstanceKey {
  const t = text.trim();
  const m = /^\[([^\]]+)\]:([^:]+)$/.exec(t) ?? /^([^:[\]]+):([^:]+)$/.exec(t);
  if (m === null) {
    throw new DiscoveryError('ERR_DISCOVERY_BAD_REQUEST', `invalid instance ${JSON.stringify(truncate(text))}: expected host:port`);
  }
  return parseInstanceKey(m[1]!, m[2]!);
}

export function sameKey(a: InstanceKey, b: InstanceKey): boolean {
  return a.host === b.host && a.port === b.port;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Turns a validated host into the address to connect to. Injected so tests never touch DNS. */
export type HostResolver = (host: string) => Promise<string>;

/**
 * The default resolver: IP literals as they are; names through the system resolver (getaddrinfo, so
 * /etc/hosts first), taking the first IPv4 address, else the first IPv6 one, within `timeoutMs`
 * (ERR_DISCOVERY_TIMEOUT after). Results are cached for `ttlMs`; failures are not cached.
 */
export function systemHostResolver(opts: { ttlMs?: number; timeoutMs?: number; now?: () => number } = {}): HostResolver {
  const ttl = opts.ttlMs ?? 60_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { address: string; expires: number }>();
  return async (host: string): Promise<string> => {
    if (isIP(host) !== 0) return host.toLowerCase();
    const hit = cache.get(host);
    if (hit !== undefined && hit.expires > now()) return hit.address;
    let addresses: Array<{ address: string; family: number }>;
    let timer: NodeJS.Timeout | undefined;
    try {
      // getaddrinfo cannot be cancelled; past the timeout its late answer is simply dropped.
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new DiscoveryError('ERR_DISCOVERY_TIMEOUT', `resolving host ${JSON.stringify(host)} timed out after ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      addresses = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
    } catch (err) {
      if (err instanceof DiscoveryError) throw err;
      const code = err instanceof Error && 'code' in err ? String(err.code) : 'unknown';
      throw new DiscoveryError('ERR_DISCOVERY_UNRESOLVED', `cannot resolve host ${JSON.stringify(host)} (${code})`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
    if (chosen === undefined) {
      throw new DiscoveryError('ERR_DISCOVERY_UNRESOLVED', `cannot resolve host ${JSON.stringify(host)} (no address)`);
    }
    const address = chosen.address.toLowerCase();
    if (cache.size > 10_000) cache.clear();
    cache.set(host, { address, expires: now() + ttl });
    return address;
  };
}

/** The canonical key: host resolved to an IP address. */
export async function resolveKey(key: InstanceKey, resolve: HostResolver): Promise<InstanceKey> {
  return { host: await resolve(key.host), port: key.port };
}
