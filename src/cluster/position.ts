/**
 * Who may lead: the rule that keeps every node's log a prefix of the same history.
 *
 * Every node's log is a byte-identical copy of the primary's binlog (the leader pulls it from the primary;
 * followers pull it from the leader through our own replication protocol, which relays stored bytes
 * unchanged). So two logs can only differ by length, and "ahead" is well defined: a later file, or the same
 * file and a larger end position. File names are the primary's (`<base>.<number>`), compared by number.
 *
 * Rule: while nobody leads, a node campaigns only when its own log is not behind the position any other
 * live member has published. Before it looks, it publishes its own position and waits `settleMs`, so that
 * the other survivors (who saw the leader key vanish at the same moment) have published theirs too. The
 * most advanced live node always passes the gate (its log is at least what it published, which is at least
 * what anybody else published), so some node can always lead.
 *
 * Remaining risk, documented rather than handled: positions are published at most every second and read
 * once, so a follower may still end up slightly ahead of the new leader (it received events the new leader
 * had not yet received from the dead one). Such a follower is not divergent: its extra events are the
 * primary's own bytes at the same positions, and the new leader fetches the same bytes from the primary.
 * Until the new leader has them, the follower's dump request is refused (ERR 1236, "position past the
 * end"), its syncer retries, and it serves replicas only what it already holds. The follower would hold
 * divergent history only if the primary itself rewrote its binlog at those positions (a primary that lost
 * a non-durable binlog tail in a crash, or a primary failover to another server); that case needs an
 * operator (wipe the follower's data dir) and is out of scope here.
 */
import type { Logger } from '../logger.js';
import type { Coordinator, MemberInfo, MemberPosition } from './types.js';

/** `mysql-bin.000012` → 12 (a name without a numeric extension sorts as 0). */
function fileNumber(name: string): number {
  const m = /\.([0-9]+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}

/** Negative when `a` is behind `b`, 0 when equal, positive when ahead. An empty log (null) is behind any log. */
export function comparePositions(a: MemberPosition | null, b: MemberPosition | null): number {
  const af = a?.last_binlog_file ?? null;
  const bf = b?.last_binlog_file ?? null;
  if (af === null || bf === null) return (af === null ? 0 : 1) - (bf === null ? 0 : 1);
  const byFile = fileNumber(af) - fileNumber(bf);
  if (byFile !== 0) return byFile;
  return (a?.last_file_position ?? 0) - (b?.last_file_position ?? 0);
}

export interface CampaignGateOptions {
  coordinator: Pick<Coordinator, 'members' | 'publishSelf'>;
  self: MemberInfo;
  position: () => MemberPosition | null;
  /** Wait between publishing our position and reading the others' (default 300 ms). */
  settleMs?: number;
  logger: Logger;
}

/** The coordinator's `campaignGate` for the rule above. */
export function positionCampaignGate(opts: CampaignGateOptions): () => Promise<boolean> {
  const settleMs = opts.settleMs ?? 300;
  let lastRefusal = '';
  return async () => {
    await opts.coordinator.publishSelf(opts.self, opts.position());
    await new Promise((r) => setTimeout(r, settleMs));
    const mine = opts.position();
    const members = await opts.coordinator.members();
    const ahead = members.filter((m) => m.name !== opts.self.name && comparePositions(mine, m.position) < 0);
    if (ahead.length === 0) {
      lastRefusal = '';
      return true;
    }
    const text = ahead.map((m) => m.name).join(',');
    if (text !== lastRefusal) {
      lastRefusal = text;
      opts.logger.info(
        { mine, ahead: ahead.map((m) => ({ name: m.name, position: m.position })) },
        'not campaigning: another live member holds more of the log',
      );
    }
    return false;
  };
}
