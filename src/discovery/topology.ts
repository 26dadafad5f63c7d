/**
 * Topology: the breadth-first walk that follows sources and replicas (bounded in depth and count, one visit
 * per canonical key), and the cluster graph built from stored instances.
 */
import { formatKey, sameKey } from './key.js';
import type { ClusterEdge, ClusterGraph, ClusterNode, Instance, InstanceKey, ProbedInstance } from './types.js';

// ---------------------------------------------------------------------------------------------------------
// Walk

export interface WalkOptions {
  /** Hops away from the start instance that are still probed (0: only the start). */
  maxDepth: number;
  /** Instances one walk may touch, the start included. */
  maxInstances: number;
}

export interface WalkFailure {
  key: InstanceKey;
  code: string;
  message: string;
}

export interface WalkResult {
  /** Instances read successfully, in visiting order (the start first). */
  visited: InstanceKey[];
  failed: WalkFailure[];
  /** True when a bound stopped the walk with neighbours left unvisited. */
  truncated: boolean;
}

/** Source and replicas of an instance: where the walk goes next. */
export function neighbours(inst: Pick<ProbedInstance, 'master_key' | 'replicas' | 'replication_channels'>): InstanceKey[] {
  const out: InstanceKey[] = [];
  const add = (k: InstanceKey): void => {
    if (!out.some((o) => sameKey(o, k))) out.push({ host: k.host, port: k.port });
  };
  if (inst.master_key !== null) add(inst.master_key);
  for (const c of inst.replication_channels) add(c.master_key);
  for (const r of inst.replicas) add(r);
  return out;
}

/** Reads one instance for the walk; returns its neighbours' source data, or throws (recorded as a failure). */
export type WalkVisit = (key: InstanceKey, depth: number) => Promise<ProbedInstance>;

/**
 * Breadth-first from `start` (already read), level by level; each level's instances are visited together
 * (the visit function is expected to bound concurrency). Keys are canonical, so `seen` removes duplicates.
 */
export async function walkTopology(start: ProbedInstance, visit: WalkVisit, opts: WalkOptions): Promise<WalkResult> {
  const seen = new Set<string>([formatKey(start.key)]);
  const visited: InstanceKey[] = [start.key];
  const failed: WalkFailure[] = [];
  let truncated = false;
  let level: ProbedInstance[] = [start];
  for (let depth = 1; level.length > 0; depth++) {
    const frontier: InstanceKey[] = [];
    for (const inst of level) {
      for (const n of neighbours(inst)) {
        const k = formatKey(n);
        if (seen.has(k)) continue;
        if (depth > opts.maxDepth || seen.size >= opts.maxInstances) {
          truncated = true;
          continue;
        }
        seen.add(k);
        frontier.push(n);
      }
    }
    const results = await Promise.allSettled(frontier.map((k) => visit(k, depth)));
    level = [];
    results.forEach((r, i) => {
      const key = frontier[i]!;
      if (r.status === 'fulfilled') {
        visited.push(key);
        level.push(r.value);
      } else {
        const err = r.reason as { code?: unknown; message?: unknown };
        failed.push({
          key,
          code: typeof err.code === 'string' ? err.code : 'ERR_UNKNOWN',
          message: typeof err.message === 'string' ? err.message : String(r.reason),
        });
      }
    });
  }
  return { visited, failed, truncated };
}

// ---------------------------------------------------------------------------------------------------------
// Cluster graph

function replicates(replica: Instance, source: InstanceKey): boolean {
  if (replica.master_key !== null && sameKey(replica.master_key, source)) return true;
  return replica.replication_channels.some((c) => sameKey(c.master_key, source));
}

/**
 * The connected component of `start` in the source→replica graph of `instances`, or null when `start` is
 * neither stored nor named by a stored instance. Edges come from a replica's own replication connections;
 * a source's replica list adds an edge only for replicas that were never read (a replica that was read and
 * now replicates from elsewhere is not drawn under its old source).
 */
export function buildClusterGraph(instances: readonly Instance[], start: InstanceKey): ClusterGraph | null {
  const byKey = new Map<string, Instance>(instances.map((i) => [formatKey(i.key), i]));
  const edges = new Map<string, ClusterEdge>();
  const adjacency = new Map<string, Set<string>>();
  const keys = new Map<string, InstanceKey>();
  const link = (source: InstanceKey, replica: InstanceKey): void => {
    const s = formatKey(source);
    const r = formatKey(replica);
    if (s === r) return;
    keys.set(s, source);
    keys.set(r, replica);
    edges.set(`${s} ${r}`, { source: { ...source }, replica: { ...replica } });
    if (!adjacency.has(s)) adjacency.set(s, new Set());
    if (!adjacency.has(r)) adjacency.set(r, new Set());
    adjacency.get(s)!.add(r);
    adjacency.get(r)!.add(s);
  };
  for (const inst of instances) {
    keys.set(formatKey(inst.key), inst.key);
    for (const c of inst.replication_channels) link(c.master_key, inst.key);
    if (inst.master_key !== null) link(inst.master_key, inst.key);
    for (const r of inst.replicas) {
      const read = byKey.get(formatKey(r));
      if (read === undefined || replicates(read, inst.key)) link(inst.key, { host: r.host, port: r.port });
    }
  }
  const startText = formatKey(start);
  if (!keys.has(startText)) return null;

  const component: string[] = [];
  const inComponent = new Set<string>([startText]);
  const queue = [startText];
  while (queue.length > 0) {
    const k = queue.shift()!;
    component.push(k);
    for (const n of adjacency.get(k) ?? []) {
      if (!inComponent.has(n)) {
        inComponent.add(n);
        queue.push(n);
      }
    }
  }
  component.sort();
  const componentEdges = [...edges.entries()]
    .filter(([, e]) => inComponent.has(formatKey(e.source)))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, e]) => e);
  const hasSource = new Set(componentEdges.map((e) => formatKey(e.replica)));
  let roots = component.filter((k) => !hasSource.has(k));
  if (roots.length === 0) {
    // A ring (co-primaries): the writable members are the roots; failing that, all of them.
    const writable = component.filter((k) => byKey.get(k)?.read_only === false);
    roots = writable.length > 0 ? writable : [...component];
  }
  // Prefer a root that was read and has replicas, then any read root: that is the cluster's primary.
  const rank = (k: string): number => {
    const inst = byKey.get(k);
    if (inst === undefined) return 2;
    return inst.replicas.length > 0 || componentEdges.some((e) => formatKey(e.source) === k) ? 0 : 1;
  };
  roots.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const nodes: ClusterNode[] = component.map((k) => {
    const inst = byKey.get(k) ?? null;
    return { key: { ...keys.get(k)! }, discovered: inst !== null, instance: inst };
  });
  return {
    cluster_name: roots[0]!,
    roots: roots.map((k) => ({ ...keys.get(k)! })),
    nodes,
    edges: componentEdges,
  };
}
