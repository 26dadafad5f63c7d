import { describe, it, expect } from 'vitest';
import { ProtocolError } from '../../../protocol/errors.js';
import {
  GNO_END,
  MAX_GNO,
  MysqlGtidSet,
  formatMysqlGtid,
  parseMysqlGtid,
} from '../../../protocol/gtid/index.js';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = '55778904-0299-11f1-b1b8-4ef0c4956feb';
const U3 = 'ffffffff-0000-0000-0000-000000000001';

function syntaxErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('ERR_GTID_SYNTAX');
    return err as ProtocolError;
  }
  throw new Error('expected ERR_GTID_SYNTAX, nothing was thrown');
}

describe('parseMysqlGtid / formatMysqlGtid', () => {
  it('parses untagged and tagged GTIDs, lowercasing uuid and tag', () => {
    expect(parseMysqlGtid(`${U1}:5`)).toEqual({ uuid: U1, tag: '', gno: 5n });
    expect(parseMysqlGtid(`${U1.toUpperCase()}:MyTag:7`)).toEqual({ uuid: U1, tag: 'mytag', gno: 7n });
    expect(parseMysqlGtid(`  ${U2}:_x1:${MAX_GNO}\n`)).toEqual({ uuid: U2, tag: '_x1', gno: MAX_GNO });
  });

  it('formats back to the text form', () => {
    expect(formatMysqlGtid({ uuid: U1, tag: '', gno: 5n })).toBe(`${U1}:5`);
    expect(formatMysqlGtid({ uuid: U1, tag: 'mytag', gno: 9007199254740993n })).toBe(`${U1}:mytag:9007199254740993`);
    for (const t of [`${U1}:1`, `${U2}:abc:42`]) expect(formatMysqlGtid(parseMysqlGtid(t))).toBe(t);
  });

  it.each([
    ['', 'empty'],
    [U1, 'no gno'],
    [`${U1}:0`, 'gno 0'],
    [`${U1}:${GNO_END}`, 'gno = GNO_END'],
    [`${U1}:-1`, 'negative'],
    [`${U1}:1-5`, 'an interval'],
    [`${U1}::5`, 'empty tag'],
    [`${U1}:9tag:5`, 'tag starting with a digit'],
    [`${U1}:${'t'.repeat(33)}:5`, 'tag of 33 chars'],
    [`${U1.replaceAll('-', '')}:5`, 'undashed uuid'],
    [`{${U1}}:5`, 'braced uuid'],
    [`${U1}:a:b:5`, 'two tags'],
  ])('rejects %j (%s)', (text) => {
    syntaxErrorOf(() => parseMysqlGtid(text));
  });
});

describe('MysqlGtidSet.parse / toString', () => {
  it('treats empty and blank text as the empty set', () => {
    for (const t of ['', '   ', '\n', ',', ' , ,']) {
      const s = MysqlGtidSet.parse(t);
      expect(s.isEmpty()).toBe(true);
      expect(s.toString()).toBe('');
    }
  });

  it.each([
    [`${U1}:1-5`, `${U1}:1-5`],
    [`${U1}:1-3:4-5`, `${U1}:1-5`],
    [`${U1}:4-5:1-3`, `${U1}:1-5`],
    [`${U1}:1-3:5`, `${U1}:1-3:5`],
    [`${U1}:5:5:5`, `${U1}:5`],
    [`${U1}:1-10:3-4`, `${U1}:1-10`],
    [`${U1}:7-7`, `${U1}:7`],
    [`${U1}:2-3,${U1}:1`, `${U1}:1-3`],
    [`${U2}:1,${U1}:1`, `${U1}:1,${U2}:1`],
    [`${U1.toUpperCase()}:1`, `${U1}:1`],
    // tags: sorted after the untagged intervals of the same uuid, tags in order, case folded
    [`${U1}:tb:1:ta:2:3`, `${U1}:ta:2-3:tb:1`],
    [`${U1}:tb:1:ta:2,${U1}:3`, `${U1}:3:ta:2:tb:1`],
    [`${U1}:TAG:1-2,${U1}:4`, `${U1}:4:tag:1-2`],
    [`${U1}:x:1:y:2:x:2`, `${U1}:x:1-2:y:2`],
    // MySQL prints ",\n" between uuids; whitespace around separators is allowed
    [`${U1}:1-5,\n${U2}:3`, `${U1}:1-5,${U2}:3`],
    [` ${U1} : 1 - 5 : 7 ,\t${U2}:mytag : 1 `, `${U1}:1-5:7,${U2}:mytag:1`],
    // empty elements between commas are skipped (as MySQL does)
    [`,${U1}:1,,${U2}:2,`, `${U1}:1,${U2}:2`],
    // leading zeros
    [`${U1}:007-010`, `${U1}:7-10`],
    // a uuid or tag with no interval adds nothing
    [`${U1},${U2}:1`, `${U2}:1`],
    [`${U1}:lonely`, ''],
    [`${U3}:${MAX_GNO}`, `${U3}:${MAX_GNO}`],
    [`${U3}:1-${MAX_GNO}`, `${U3}:1-${MAX_GNO}`],
  ])('parse(%j).toString() = %j', (text, canonical) => {
    const s = MysqlGtidSet.parse(text);
    expect(s.toString()).toBe(canonical);
    expect(MysqlGtidSet.parse(s.toString()).equals(s)).toBe(true);
  });

  it.each([
    [`${U1}:0`, `'0'`],
    [`${U1}:0-5`, `'0-5'`],
    [`${U1}:5-3`, 'below its start'],
    [`${U1}:1-${GNO_END}`, `'${GNO_END}'`],
    [`${U1}:${GNO_END}`, `'${GNO_END}'`],
    [`${U1}:99999999999999999999999`, 'out of range'],
    [`${U1}:`, 'end of text'],
    [`${U1}:1:`, 'end of text'],
    [`${U1}:1-`, 'interval end'],
    [`${U1}:1,x`, `'x'`],
    [`${U1.slice(0, 35)}:1`, 'UUID'],
    [`${U1.replaceAll('-', '')}:1`, 'UUID'],
    [`${U1}x:1`, `'x'`],
    [`${U1}:1 ${U2}:2`, `'${U2}'`],
    [`${U1}:1;${U2}:2`, `';'`],
    [`${U1}:${'a'.repeat(33)}:1`, `'${'a'.repeat(33)}'`],
    [`${U1}:-1`, `'-1'`],
    [`${U1}:+1`, `'+'`],
    [`${U1}:1-5-7`, `'-7'`],
    [`${U1}:é:1`, `'é'`],
    [`zzzzzzzz-71ca-11e1-9e33-c80aa9429562:1`, 'zzzzzzzz'],
  ])('parse(%j) throws ERR_GTID_SYNTAX quoting %s', (text, quoted) => {
    const err = syntaxErrorOf(() => MysqlGtidSet.parse(text));
    expect(err.message).toContain(quoted);
  });

  it('accepts the largest GNO and 32-character tags', () => {
    const tag = `_${'z9'.repeat(15)}a`;
    expect(tag.length).toBe(32);
    const s = MysqlGtidSet.parse(`${U1}:${tag.toUpperCase()}:${MAX_GNO}`);
    expect(s.sids()).toEqual([{ uuid: U1, tag }]);
    expect(s.intervals(U1, tag)).toEqual([[MAX_GNO, MAX_GNO]]);
  });

  it('prints the text mysqlbinlog shows for a PREVIOUS_GTIDS set', () => {
    const s = MysqlGtidSet.empty().addInterval('214EB71F-96EC-11E8-AB4F-FA163E72D4AE', '', 1n, 11800n);
    expect(s.toString()).toBe('214eb71f-96ec-11e8-ab4f-fa163e72d4ae:1-11800');
  });
});
