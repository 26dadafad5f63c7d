import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../../src/discovery/errors.js';
import { formatKey } from '../../../src/discovery/key.js';
import { buildClusterGraph, neighbours, walkTopology } from '../../../src/discovery/topology.js';
import type { Instance, InstanceKey, ReplicationStatus } from '../../../src/discovery/types.js';
import { sampleInstance } from './fixtures.js';

const H = '127.0.0.1';

function channel(source: InstanceKey, name = ''): ReplicationStatus {
  return {
    channel: name,
    master_key: source,
    master_server_id: null,
    master_uuid: null,
    io_running: true,
    io_state: 'Yes',
    sql_running: true,
    seconds_behind_master: 0,
    read_position: null,
    exec_position: null,
    using_gtid: true,
    gtid_mode: 'slave_pos',
    gtid_io_pos: null,
    last_io_errno: 0,
    last_io_error: '',
    last_sql_errno: 0,
    last_sql_error: '',
    sql_delay: 0,
  };
}

/** An instance at H:port replicating from `source` (port) and listing `replicas` (ports). */
function node(port: number, source: number | null, replicas: number[] = []): Instance {
  const base = sampleInstance(H, port);
  const rep = source === null ? null : channel({ host: H, port: source });
  return {
    ...base,
    master_key: rep?.master_key ?? null,
    replication: rep,
    replication_channels: rep === null ? [] : [rep],
    replicas: replicas.map((p) => ({ host: H, port: p, server_id: p })),
    role: source === null ? (replicas.length > 0 ? 'primary' : 'standalone') : replicas.length > 0 ? 'intermediate' : 'replica',
  };
}

/** A fake network of instances for the walk; `down` ports fail. */
function world(instances: Instance[], down: number[] = []) {
  const byPort = new Map(instances.map((i) => [i.key.port, i]));
  const visits: Array<{ key: string; depth: number }> = [];
  const visit = async (key: InstanceKey, depth: number): Promise<Instance> => {
    visits.push({ key: formatKey(key), depth });
    const inst = byPort.get(key.port);
    if (inst === undefined || down.includes(key.port)) {
      throw new DiscoveryError('ERR_DISCOVERY_REFUSED', `${formatKey(key)} connect: connection refused`);
    }
    return inst;
  };
  return { byPort, visits, visit };
}

describe('neighbours', () => {
  it('lists the source, every channel source and the replicas once each', () => {
    const inst = node(2, 1, [3, 4]);
    inst.replication_channels.push(channel({ host: H, port: 9 }, 'other'), channel({ host: H, port: 1 }, 'dup'));
    expect(neighbours(inst).map((k) => k.port)).toEqual([1, 9, 3, 4]);
  });
});

describe('walkTopology', () => {
  // 1 -> 2 -> 3 -> 4 -> 5 (a chain), 1 -> 6
  const chain = [node(1, null, [2, 6]), node(2, 1, [3]), node(3, 2, [4]), node(4, 3, [5]), node(5, 4), node(6, 1)];

  it('visits breadth-first from the middle of a chain, each instance once', async () => {
    const w = world(chain);
    const result = await walkTopology(w.byPort.get(3)!, w.visit, { maxDepth: 10, maxInstances: 100 });
    expect(result.visited.map((k) => k.port)).toEqual([3, 2, 4, 1, 5, 6]);
    expect(w.visits).toEqual([
      { key: `${H}:2`, depth: 1 },
      { key: `${H}:4`, depth: 1 },
      { key: `${H}:1`, depth: 2 },
      { key: `${H}:5`, depth: 2 },
      { key: `${H}:6`, depth: 3 },
    ]);
    expect(result.truncated).toBe(false);
    expect(result.failed).toEqual([]);
  });

  it('stops at maxDepth and says so', async () => {
    const w = world(chain);
    const result = await walkTopology(w.byPort.get(1)!, w.visit, { maxDepth: 2, maxInstances: 100 });
    expect(result.visited.map((k) => k.port).sort()).toEqual([1, 2, 3, 6]);
    expect(result.truncated).toBe(true);
    const none = await walkTopology(w.byPort.get(1)!, w.visit, { maxDepth: 0, maxInstances: 100 });
    expect(none.visited.map((k) => k.port)).toEqual([1]);
  });

  it('stops at maxInstances (the start included)', async () => {
    const w = world(chain);
    const result = await walkTopology(w.byPort.get(1)!, w.visit, { maxDepth: 10, maxInstances: 3 });
    expect(result.visited.length).toBe(3);
    expect(w.visits.length).toBe(2);
    expect(result.truncated).toBe(true);
  });

  it('records failures and does not go past them', async () => {
    const w = world(chain, [3]);
    const result = await walkTopology(w.byPort.get(1)!, w.visit, { maxDepth: 10, maxInstances: 100 });
    expect(result.failed).toEqual([{ key: { host: H, port: 3 }, code: 'ERR_DISCOVERY_REFUSED', message: `${H}:3 connect: connection refused` }]);
    expect(result.visited.map((k) => k.port).sort()).toEqual([1, 2, 6]);
  });

  it('terminates on a ring of co-primaries', async () => {
    const ring = [node(1, 2, [2]), node(2, 1, [1])];
    const w = world(ring);
    const result = await walkTopology(w.byPort.get(1)!, w.visit, { maxDepth: 10, maxInstances: 100 });
    expect(result.visited.map((k) => k.port)).toEqual([1, 2]);
    expect(w.visits.length).toBe(1);
  });
});

describe('buildClusterGraph', () => {
  it('builds nodes, edges and the primary as cluster name from any member', () => {
    const instances = [node(1, null, [2]), node(2, 1, [3]), node(3, 2)];
    for (const start of [1, 2, 3]) {
      const g = buildClusterGraph(instances, { host: H, port: start })!;
      expect(g.cluster_name).toBe(`${H}:1`);
      expect(g.roots).toEqual([{ host: H, port: 1 }]);
      expect(g.nodes.map((n) => [n.key.port, n.discovered])).toEqual([
        [1, true],
        [2, true],
        [3, true],
      ]);
      expect(g.edges.map((e) => `${e.source.port}->${e.replica.port}`)).toEqual(['1->2', '2->3']);
    }
  });

  it('shows replicas that were listed but never read as undiscovered nodes', () => {
    const g = buildClusterGraph([node(1, null, [2, 7])], { host: H, port: 1 })!;
    expect(g.nodes.map((n) => [n.key.port, n.discovered, n.instance === null])).toEqual([
      [1, true, false],
      [2, false, true],
      [7, false, true],
    ]);
    expect(g.edges.length).toBe(2);
  });

  it("trusts a replica's own source over a stale replica list", () => {
    // 3 moved from 1 to 2; 1's stored replica list still names it.
    const instances = [node(1, null, [2, 3]), node(2, 1, [3]), node(3, 2)];
    const g = buildClusterGraph(instances, { host: H, port: 3 })!;
    expect(g.edges.map((e) => `${e.source.port}->${e.replica.port}`)).toEqual(['1->2', '2->3']);
  });

  it('keeps separate clusters apart', () => {
    const instances = [node(1, null, [2]), node(2, 1), node(10, null, [11]), node(11, 10)];
    const g = buildClusterGraph(instances, { host: H, port: 11 })!;
    expect(g.cluster_name).toBe(`${H}:10`);
    expect(g.nodes.map((n) => n.key.port)).toEqual([10, 11]);
  });

  it('names a ring of co-primaries after a writable member', () => {
    const a = { ...node(1, 2, [2]), read_only: true };
    const b = { ...node(2, 1, [1]), read_only: false };
    const g = buildClusterGraph([a, b], { host: H, port: 1 })!;
    expect(g.cluster_name).toBe(`${H}:2`);
    expect(g.edges.length).toBe(2);
  });

  it('returns null for an address nobody knows, and a lone instance as its own cluster', () => {
    expect(buildClusterGraph([node(1, null)], { host: H, port: 99 })).toBeNull();
    const g = buildClusterGraph([node(1, null)], { host: H, port: 1 })!;
    expect(g.cluster_name).toBe(`${H}:1`);
    expect(g.edges).toEqual([]);
  });

  it('draws every replication channel of a multi-source replica', () => {
    const multi = node(3, 1);
    multi.replication_channels.push(channel({ host: H, port: 2 }, 'second'));
    const g = buildClusterGraph([node(1, null, [3]), node(2, null, [3]), multi], { host: H, port: 3 })!;
    expect(g.edges.map((e) => `${e.source.port}->${e.replica.port}`)).toEqual(['1->3', '2->3']);
    expect(g.roots.map((k) => k.port)).toEqual([1, 2]);
  });
});
