// Stored cluster records and the sealed syncer password: pure encode/decode.
import { describe, expect, it } from 'vitest';
import { ClusterKeys, prefixRangeEnd } from '../../../src/cluster/keys.js';
import { decodeIntent, decodeLeader, decodeMember, describeIntent, encodeIntent, encodeLeader, encodeMember } from '../../../src/cluster/records.js';
import { SecretBox } from '../../../src/cluster/secrets.js';
import type { SyncerArgs } from '../../../src/config/config.js';

const ARGS: SyncerArgs = {
  mysql_addr: '[::1]:3306',
  mysql_user: 'repl',
  mysql_password: 'pässwörd with "quotes"',
  syncer_id: 12,
  syncer_uuid: '3e11fa47-71ca-11e1-9e33-c80aa9429562',
  semi_sync: true,
  start: { gtid: '0-1-100' },
  heartbeat_period_ms: 1000,
};
const SECRET = 'sixteen chars at least, right?';
const AAD = '/bp/syncer/intent';
const writer = { epoch: 42n, leader: 'node-a', now: new Date('2026-01-02T03:04:05.000Z') };

describe('keys', () => {
  it('lays every key out under the prefix', () => {
    const k = new ClusterKeys('/bp/');
    expect([k.leader, k.member('node-a'), k.intent, k.shared('discovery').toString()]).toEqual([
      '/bp/leader',
      '/bp/members/node-a',
      '/bp/syncer/intent',
      '/bp/shared/discovery/',
    ]);
    expect(k.memberName('/bp/members/node-a')).toBe('node-a');
  });

  it('refuses names that could reach into another key space, and bad prefixes', () => {
    const k = new ClusterKeys('/bp/');
    expect(() => k.member('a/b')).toThrow(/cluster.name/);
    expect(() => k.member('')).toThrow(/cluster.name/);
    expect(() => k.shared('x/../y')).toThrow(/namespace/);
    expect(() => new ClusterKeys('/bp')).toThrow(/ending in '\/'/);
  });

  it('computes the end of a prefix range', () => {
    expect(prefixRangeEnd(Buffer.from('ab'))).toEqual(Buffer.from('ac'));
    expect(prefixRangeEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixRangeEnd(Buffer.from([0xff]))).toEqual(Buffer.of(0));
  });
});

describe('leader and member records', () => {
  it('round-trip, with the create revision as epoch and is_leader from the leader name', () => {
    const info = { name: 'node-a', adminUrl: 'http://10.0.0.1:9595', serverAddr: '10.0.0.1:3307' };
    expect(decodeLeader(encodeLeader(info), '9007199254740993')).toEqual({ ...info, epoch: 9007199254740993n });
    const pos = { executed_gtid_set: '0-1-5', last_binlog_file: 'bin.000002', last_file_position: 1234 };
    const m = encodeMember(info, pos, writer.now);
    expect(decodeMember(m, 'node-a')).toEqual({
      name: 'node-a', admin_url: info.adminUrl, server_addr: info.serverAddr, is_leader: true, position: pos, updated_at: '2026-01-02T03:04:05.000Z',
    });
    expect(decodeMember(encodeMember(info, null, writer.now), 'node-b')).toMatchObject({ is_leader: false, position: null });
  });

  it('rejects malformed records with ERR_CLUSTER_STATE', () => {
    for (const bad of ['{', '[]', '{"v":2,"name":"a"}', '{"v":1,"name":5,"admin_url":"x","server_addr":"y"}']) {
      expect(() => decodeLeader(Buffer.from(bad), '1')).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_STATE' }));
    }
    const badPos = JSON.stringify({ v: 1, name: 'a', admin_url: 'x', server_addr: 'y', position: { executed_gtid_set: 1 }, updated_at: 'now' });
    expect(() => decodeMember(Buffer.from(badPos), null)).toThrow(/position/);
  });
});

describe('syncer intent', () => {
  it('round-trips with a sealed password that is not in the stored bytes', () => {
    const box = new SecretBox(SECRET);
    const bytes = encodeIntent({ running: true, args: ARGS }, writer, box, AAD);
    expect(bytes.toString('utf8')).not.toContain('pässwörd');
    expect(JSON.parse(bytes.toString('utf8'))).toMatchObject({ v: 1, running: true, epoch: '42', leader: 'node-a', password: { alg: 'aes-256-gcm' } });
    expect(JSON.parse(bytes.toString('utf8')).args.mysql_password).toBeUndefined();
    expect(decodeIntent(bytes, '77', box, AAD)).toEqual({
      running: true, args: ARGS, epoch: 42n, leader: 'node-a', updated_at: '2026-01-02T03:04:05.000Z', revision: 77n,
    });
  });

  it('seals with a fresh IV each time', () => {
    const box = new SecretBox(SECRET);
    const a = JSON.parse(encodeIntent({ running: true, args: ARGS }, writer, box, AAD).toString()).password;
    const b = JSON.parse(encodeIntent({ running: true, args: ARGS }, writer, box, AAD).toString()).password;
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
  });

  it('stores the password as is without a secret, and reads it back', () => {
    const box = new SecretBox(null);
    const bytes = encodeIntent({ running: true, args: ARGS }, writer, box, AAD);
    expect(JSON.parse(bytes.toString()).password).toEqual({ alg: 'plain', value: ARGS.mysql_password });
    expect(decodeIntent(bytes, '1', box, AAD).args).toEqual(ARGS);
    // A node with a secret still reads an unsealed record (migration to sealing).
    expect(decodeIntent(bytes, '1', new SecretBox(SECRET), AAD).args).toEqual(ARGS);
  });

  it('will not open with another secret, without a secret, under another key, or when tampered with', () => {
    const bytes = encodeIntent({ running: true, args: ARGS }, writer, new SecretBox(SECRET), AAD);
    expect(() => decodeIntent(bytes, '1', new SecretBox(`${SECRET}!`), AAD)).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_SECRET' }));
    expect(() => decodeIntent(bytes, '1', new SecretBox(null), AAD)).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_SECRET' }));
    expect(() => decodeIntent(bytes, '1', new SecretBox(SECRET), '/other/syncer/intent')).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_SECRET' }));
    const doc = JSON.parse(bytes.toString());
    const data = Buffer.from(doc.password.data, 'base64');
    data[0]! ^= 1;
    doc.password.data = data.toString('base64');
    expect(() => decodeIntent(Buffer.from(JSON.stringify(doc)), '1', new SecretBox(SECRET), AAD)).toThrow(expect.objectContaining({ code: 'ERR_CLUSTER_SECRET' }));
  });

  it('stores a stop (with or without the last arguments) and refuses a running intent without arguments', () => {
    const box = new SecretBox(SECRET);
    const stop = decodeIntent(encodeIntent({ running: false }, writer, box, AAD), '3', box, AAD);
    expect(stop).toMatchObject({ running: false, epoch: 42n });
    expect(stop).not.toHaveProperty('args');
    expect(decodeIntent(encodeIntent({ running: false, args: ARGS }, writer, box, AAD), '3', box, AAD)).toMatchObject({ running: false, args: ARGS });
    expect(() => encodeIntent({ running: true }, writer, box, AAD)).toThrow(/needs the syncer arguments/);
  });

  it('validates stored arguments like the admin API does, without echoing the password', () => {
    const box = new SecretBox(null);
    const doc = JSON.parse(encodeIntent({ running: true, args: ARGS }, writer, box, AAD).toString());
    doc.args.syncer_id = 0;
    let message = '';
    try {
      decodeIntent(Buffer.from(JSON.stringify(doc)), '1', box, AAD);
    } catch (err) {
      message = (err as Error).message;
      expect(err).toMatchObject({ code: 'ERR_CLUSTER_STATE' });
    }
    expect(message).toMatch(/syncer_id/);
    expect(message).not.toContain(ARGS.mysql_password);
  });

  it('describes an intent for logs without the password', () => {
    const text = JSON.stringify(describeIntent({ running: true, args: ARGS }));
    expect(text).toContain('repl');
    expect(text).not.toContain(ARGS.mysql_password);
    expect(describeIntent(null)).toEqual({ intent: null });
  });

  it('refuses a cluster secret shorter than 16 characters', () => {
    expect(() => new SecretBox('short')).toThrow(/at least 16/);
  });
});
