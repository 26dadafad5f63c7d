/**
 * Every etcd key the cluster layer uses, in one place. All keys live under the configured prefix
 * (config `cluster.prefix`, default `/binlog-proxy/`), so several clusters can share one etcd.
 *
 *   <prefix>leader                      LeaderRecord JSON; attached to the leader's session lease, so it
 *                                       disappears when that lease expires or is revoked. Its create
 *                                       revision is the leader's epoch (fencing token).
 *   <prefix>members/<name>              MemberRecord JSON; attached to that member's session lease.
 *   <prefix>syncer/intent               IntentRecord JSON; persistent (the stored syncer arguments / stop).
 *   <prefix>shared/<namespace>/<bytes>  raw values of a shared KvRange (discovery); persistent.
 *
 * Names and namespaces are restricted to [A-Za-z0-9_.-] so that no name can reach into another key's
 * space (a '/' in a member name would).
 */
import { ValidationError } from '../config/validate.js';

const NAME_RE = /^[A-Za-z0-9_.-]{1,128}$/;

export function checkName(name: string, field: string): string {
  if (!NAME_RE.test(name)) {
    throw new ValidationError(field, `${field} must be 1-128 characters of A-Z a-z 0-9 _ . -, got '${name}'`);
  }
  return name;
}

export function checkPrefix(prefix: string): string {
  if (prefix.length === 0 || prefix.length > 512 || !prefix.endsWith('/')) {
    throw new ValidationError('cluster.prefix', `cluster.prefix must be a non-empty key prefix ending in '/', got '${prefix}'`);
  }
  return prefix;
}

export class ClusterKeys {
  readonly leader: string;
  readonly membersPrefix: string;
  readonly intent: string;
  readonly sharedPrefix: string;

  constructor(readonly prefix: string) {
    checkPrefix(prefix);
    this.leader = `${prefix}leader`;
    this.membersPrefix = `${prefix}members/`;
    this.intent = `${prefix}syncer/intent`;
    this.sharedPrefix = `${prefix}shared/`;
  }

  member(name: string): string {
    return `${this.membersPrefix}${checkName(name, 'cluster.name')}`;
  }

  /** The member name of a key under `membersPrefix`. */
  memberName(key: string): string {
    return key.slice(this.membersPrefix.length);
  }

  /** Byte prefix of a shared namespace: `<prefix>shared/<namespace>/`. */
  shared(namespace: string): Buffer {
    return Buffer.from(`${this.sharedPrefix}${checkName(namespace, 'namespace')}/`, 'utf8');
  }
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix scan). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff (or empty): etcd's convention for "to the end of the key space" is a single 0x00.
  return Buffer.of(0);
}
