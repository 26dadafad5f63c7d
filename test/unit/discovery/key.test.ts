import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { formatKey, parseHost, parseInstanceKey, parseKeyString, parsePort, systemHostResolver } from '../../../src/discovery/key.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof DiscoveryError ? `${err.code} ${err.status}` : `other ${String(err)}`;
  }
  return 'no error';
}

describe('host and port validation', () => {
  it('accepts names, IPv4 and IPv6 (with or without brackets), lower-cased', () => {
    expect(parseHost('DB1.Example.com')).toBe('db1.example.com');
    expect(parseHost('127.0.0.1')).toBe('127.0.0.1');
    expect(parseHost('[::1]')).toBe('::1');
    expect(parseHost('FE80::1')).toBe('fe80::1');
    expect(parseHost('localhost.')).toBe('localhost');
    expect(parseHost('db_replica-2')).toBe('db_replica-2');
  });

  it('rejects junk hosts with 400', () => {
    for (const bad of ['', ' ', 'a b', 'host/x', '999.1.1.1', '-lead', 'a..b', 'x'.repeat(300), 'h;drop', '[127.0.0.1']) {
      expect(codeOf(() => parseHost(bad)), bad).toBe('ERR_DISCOVERY_BAD_REQUEST 400');
    }
  });

  it('accepts ports 1-65535 only', () => {
    expect(parsePort('3306')).toBe(3306);
    expect(parsePort(65535)).toBe(65535);
    for (const bad of ['0', '65536', '-1', '33 06', 'abc', '', '3306.5', '1e3', '999999']) {
      expect(codeOf(() => parsePort(bad)), bad).toBe('ERR_DISCOVERY_BAD_REQUEST 400');
    }
  });

  it('formats and parses host:port, bracketing IPv6', () => {
    expect(formatKey({ host: '::1', port: 3306 })).toBe('[::1]:3306');
    expect(formatKey({ host: '10.0.0.1', port: 3306 })).toBe('10.0.0.1:3306');
    expect(parseKeyString('[::1]:3306')).toEqual({ host: '::1', port: 3306 });
    expect(parseKeyString('db1:3307')).toEqual({ host: 'db1', port: 3307 });
    expect(parseInstanceKey(' Host ', ' 12 ')).toEqual({ host: 'host', port: 12 });
    expect(codeOf(() => parseKeyString('db1'))).toBe('ERR_DISCOVERY_BAD_REQUEST 400');
    expect(codeOf(() => parseKeyString('::1:3306'))).toBe('ERR_DISCOVERY_BAD_REQUEST 400');
  });
});

describe('systemHostResolver', () => {
  it('returns IP literals unchanged and resolves localhost through /etc/hosts to a loopback address', async () => {
    const resolve = systemHostResolver();
    expect(await resolve('127.0.0.1')).toBe('127.0.0.1');
    expect(await resolve('::1')).toBe('::1');
    expect(['127.0.0.1', '::1']).toContain(await resolve('localhost'));
  });

  it('caches answers for the TTL', async () => {
    let clock = 0;
    const resolve = systemHostResolver({ ttlMs: 1000, now: () => clock });
    const first = await resolve('localhost');
    clock = 500;
    expect(await resolve('localhost')).toBe(first);
  });
});
