// From the config file's `cluster` section to coordinator options, through the real config resolver.
import { describe, expect, it } from 'vitest';
import { coordinatorOptionsFromConfig, memberFromConfig } from '../../../src/cluster/from-config.js';
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
