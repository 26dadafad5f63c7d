// From the config file's `cluster` section to coordinator options, through the real config resolver.
import { describe, expect, it } from 'vitest';
import { coordinatorOptionsFromConfig, etcdTlsFiles, memberFromConfig } from '../../../src/cluster/from-config.js';
import { resolveConfig, type Config } from '../../../src/config/config.js';
import { createLogger } from '../../../src/logger.js';

const logger = createLogger('silent');

function config(yaml: string): Config {
  return resolveConfig({ argv: ['--config', 'c.yaml'], env: {}, readFile: () => yaml }).config;
}

describe('cluster options from the config file', () => {
  it('uses the advertised addresses and the lease TTL', () => {
    const c = config(`
admin: { listen: 0.0.0.0:9595 }
server: { listen: 0.0.0.0:3307 }
cluster:
  name: node-a
  etcd: [ "http://10.0.0.9:2379", "http://10.0.0.10:2379" ]
  advertise_admin: http://10.0.0.1:9595
  advertise_server: 10.0.0.1:3307
  lease_ttl: 3s
  prefix: /prod/
`);
    const opts = coordinatorOptionsFromConfig(c, { logger, secret: 'a secret of sixteen+ chars' });
    expect(opts).toMatchObject({
      self: { name: 'node-a', adminUrl: 'http://10.0.0.1:9595', serverAddr: '10.0.0.1:3307' },
      etcd: { hosts: ['http://10.0.0.9:2379', 'http://10.0.0.10:2379'] },
      prefix: '/prod/',
      leaseTtlMs: 3000,
      secret: 'a secret of sixteen+ chars',
    });
  });

  it('defaults the advertised addresses to the listen addresses, and the prefix and TTL to the config defaults', () => {
    const c = config(`
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`);
    expect(memberFromConfig(c)).toEqual({ name: 'b', adminUrl: 'http://127.0.0.1:9595', serverAddr: '127.0.0.1:3307' });
    expect(coordinatorOptionsFromConfig(c, { logger })).toMatchObject({ prefix: '/binlog-proxy/', leaseTtlMs: 5000, secret: null });
  });

  it('requires advertised addresses when the listeners are wildcards or absent', () => {
    expect(() => memberFromConfig(config(`
admin: { listen: 0.0.0.0:9595 }
server: { listen: 127.0.0.1:3307 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`))).toThrow(expect.objectContaining({ field: 'cluster.advertise_admin' }));
    expect(() => memberFromConfig(config(`
admin: { listen: 127.0.0.1:9595 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`))).toThrow(expect.objectContaining({ field: 'cluster.advertise_server' }));
    expect(() => memberFromConfig(config(`
admin: { listen: 127.0.0.1:9595 }
server: { listen: "[::]:3307" }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`))).toThrow(expect.objectContaining({ field: 'cluster.advertise_server' }));
  });

  it('refuses a config without a cluster section', () => {
    expect(() => memberFromConfig(config('dataDir: ./x\n'))).toThrow(/not configured/);
  });
});

describe('cluster secret and replication user', () => {
  const yaml = `
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307, users: [ { user: repl, password: server-pass } ] }
cluster:
  name: c
  etcd: [ "http://127.0.0.1:2379" ]
  secret: "the file's cluster secret"
  replication_user: cluster_repl
  replication_password: from-the-file
`;

  it('reads them from the file', () => {
    const c = resolveConfig({ argv: ['--config', 'c.yaml'], env: {}, readFile: () => yaml }).config;
    expect(c.cluster?.secret).toBe("the file's cluster secret");
    expect(c.cluster?.replicationUser).toEqual({ user: 'cluster_repl', password: 'from-the-file' });
    expect(coordinatorOptionsFromConfig(c, { logger }).secret).toBe("the file's cluster secret");
  });

  it('lets the environment override the secret and the replication password', () => {
    const env = { BINLOG_PROXY_CLUSTER_SECRET: 'the environment secret', BINLOG_PROXY_CLUSTER_REPLICATION_PASSWORD: 'from-env' };
    const c = resolveConfig({ argv: ['--config', 'c.yaml'], env, readFile: () => yaml }).config;
    expect(c.cluster?.secret).toBe('the environment secret');
    expect(c.cluster?.replicationUser?.password).toBe('from-env');
  });

  it('refuses a short secret, naming the key', () => {
    expect(() => config(`
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ], secret: short }
`)).toThrow(expect.objectContaining({ field: expect.stringContaining('secret') }));
  });

  it('leaves both unset when not configured', () => {
    const c = config(`
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`);
    expect(c.cluster?.secret).toBeNull();
    expect(c.cluster?.replicationUser).toBeNull();
  });
});

describe('etcd authentication and TLS', () => {
  const yaml = `
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307 }
cluster:
  name: c
  etcd: [ "https://10.0.0.9:2379" ]
  etcd_user: binlog-proxy
  etcd_password: file-pass
  etcd_tls: { ca: /etc/etcd/ca.pem, cert: /etc/etcd/client.pem, key: /etc/etcd/client-key.pem }
`;

  it('passes the etcd user to the client, with the password from the environment first', () => {
    const c = resolveConfig({ argv: ['--config', 'c.yaml'], env: { BINLOG_PROXY_CLUSTER_ETCD_PASSWORD: 'env-pass' }, readFile: () => yaml }).config;
    expect(coordinatorOptionsFromConfig(c, { logger }).etcd.auth).toEqual({ username: 'binlog-proxy', password: 'env-pass' });
  });

  it('reads the PEM files etcd_tls names', () => {
    const c = resolveConfig({ argv: ['--config', 'c.yaml'], env: {}, readFile: () => yaml }).config;
    const creds = etcdTlsFiles(c, (p) => Buffer.from(`pem of ${p}`));
    expect(creds?.rootCertificate.toString()).toBe('pem of /etc/etcd/ca.pem');
    expect(creds?.certChain?.toString()).toBe('pem of /etc/etcd/client.pem');
    expect(creds?.privateKey?.toString()).toBe('pem of /etc/etcd/client-key.pem');
  });

  it('names the file it cannot read, and needs cert and key together', () => {
    const c = resolveConfig({ argv: ['--config', 'c.yaml'], env: {}, readFile: () => yaml }).config;
    expect(() => etcdTlsFiles(c, () => {
      throw new Error('ENOENT');
    })).toThrow(expect.objectContaining({ field: 'cluster.etcd_tls.ca' }));
    const half = resolveConfig({ argv: ['--config', 'c.yaml'], env: {}, readFile: () => yaml.replace(', key: /etc/etcd/client-key.pem', '') }).config;
    expect(() => etcdTlsFiles(half, (p) => Buffer.from(p))).toThrow(expect.objectContaining({ field: 'cluster.etcd_tls' }));
  });

  it('is off without the keys', () => {
    const c = config(`
admin: { listen: 127.0.0.1:9595 }
server: { listen: 127.0.0.1:3307 }
cluster: { name: b, etcd: [ "http://127.0.0.1:2379" ] }
`);
    expect(etcdTlsFiles(c, () => Buffer.alloc(0))).toBeNull();
    expect(coordinatorOptionsFromConfig(c, { logger }).etcd.auth).toBeUndefined();
  });
});
