// Who may campaign: log positions compared by file number then position, and the gate over member records.
import { describe, expect, it } from 'vitest';
import { comparePositions, positionCampaignGate } from '../../../src/cluster/position.js';
import type { MemberInfo, MemberPosition, MemberStatus } from '../../../src/cluster/types.js';
import { createLogger } from '../../../src/logger.js';

const at = (file: string | null, pos: number | null): MemberPosition => ({ executed_gtid_set: '', last_binlog_file: file, last_file_position: pos });
const self: MemberInfo = { name: 'b', adminUrl: 'http://127.0.0.1:1', serverAddr: '127.0.0.1:2' };
const member = (name: string, position: MemberPosition | null): MemberStatus => ({
  name, admin_url: '', server_addr: '', is_leader: false, position, updated_at: '',
});

describe('comparePositions', () => {
  it('orders by file number, then by position', () => {
    expect(comparePositions(at('bin.000002', 4), at('bin.000001', 900))).toBeGreaterThan(0);
    expect(comparePositions(at('bin.000001', 900), at('bin.000002', 4))).toBeLessThan(0);
    expect(comparePositions(at('bin.000003', 120), at('bin.000003', 500))).toBeLessThan(0);
    expect(comparePositions(at('bin.000003', 500), at('bin.000003', 500))).toBe(0);
  });

  it('compares file numbers as numbers when the extension grows past six digits', () => {
    expect(comparePositions(at('bin.1000000', 4), at('bin.999999', 4))).toBeGreaterThan(0);
  });

  it('puts an empty log behind any log, and two empty logs level', () => {
    expect(comparePositions(null, at('bin.000001', 4))).toBeLessThan(0);
    expect(comparePositions(at(null, null), at('bin.000001', 4))).toBeLessThan(0);
    expect(comparePositions(at('bin.000001', 4), null)).toBeGreaterThan(0);
    expect(comparePositions(null, at(null, null))).toBe(0);
  });
});

describe('positionCampaignGate', () => {
  const logger = createLogger('silent');

  function gateWith(mine: MemberPosition | null, others: MemberStatus[]) {
    const published: Array<MemberPosition | null> = [];
    const gate = positionCampaignGate({
      coordinator: {
        publishSelf: async (_info, position) => {
          published.push(position ?? null);
        },
        members: async () => [member(self.name, mine), ...others],
      },
      self,
      position: () => mine,
      settleMs: 0,
      logger,
    });
    return { gate, published };
  }

  it('lets a node campaign when nobody else holds more of the log (ties included)', async () => {
    const { gate, published } = gateWith(at('bin.000002', 300), [member('a', at('bin.000002', 300)), member('c', at('bin.000001', 9000)), member('d', null)]);
    expect(await gate()).toBe(true);
    expect(published).toEqual([at('bin.000002', 300)]);
  });

  it('keeps a node out while another live member is ahead', async () => {
    const { gate } = gateWith(at('bin.000002', 300), [member('a', at('bin.000002', 301))]);
    expect(await gate()).toBe(false);
  });

  it('keeps an empty node out while any member holds binlog', async () => {
    const { gate } = gateWith(null, [member('a', at('bin.000001', 4))]);
    expect(await gate()).toBe(false);
  });
});
