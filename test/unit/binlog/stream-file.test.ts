// streamBinlogFile (src/binlog-file.ts): a binlog file read from disk a piece at a time must give exactly the
// events readBinlogFile gives for the whole file in memory, whatever the piece size (events straddling pieces,
// events bigger than a piece, a header split across pieces), and the same errors for damaged files.
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBinlogFile, type BinlogFileEvent } from '../../../protocol/binlog/file.js';
import { BinlogProxyError } from '../../../protocol/errors.js';
import { streamBinlogFile } from '../../../src/binlog-file.js';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.js';
import { fixtureFiles, FIXTURES } from './_fixtures.js';

const PIECES = [19, 20, 64, 1000, 4096, 1 << 20];

interface Seen {
  pos: number;
  raw: string;
  alg: number;
}

const seen = (e: BinlogFileEvent): Seen => ({ pos: e.pos, raw: e.event.raw.toString('hex'), alg: e.checksumAlg });

async function streamed(file: string, pieceBytes: number, verifyChecksums = true): Promise<Seen[]> {
  const out: Seen[] = [];
  for await (const batch of streamBinlogFile(file, { pieceBytes, verifyChecksums })) for (const e of batch) out.push(seen(e));
  return out;
}

/** What a call throws, as code + message (or 'none'). */
async function failureOf(f: () => Promise<unknown> | unknown): Promise<string> {
  try {
    await f();
    return 'none';
  } catch (err) {
    return err instanceof BinlogProxyError ? `${err.code}: ${err.message}` : `not a BinlogProxyError: ${String(err)}`;
  }
}

describe('streamBinlogFile', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await makeTempDir('blp-stream-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  const files = fixtureFiles();
  it('has fixture files to read', () => {
    expect(files.length).toBeGreaterThan(10);
  });

  for (const f of files) {
    it(`${f.name}: the same events as the whole file in memory, for every piece size`, async () => {
      const want = [...readBinlogFile(readFileSync(f.path))].map(seen);
      expect(want.length).toBeGreaterThan(1);
      for (const piece of PIECES) expect(await streamed(f.path, piece), `piece ${piece}`).toEqual(want);
    });
  }

  it('endAt stops at that offset even when the file is longer (a binlog still being written)', async () => {
    const f = path.join(FIXTURES, 'mariadb-10.11-crc32', 'bin.000001');
    const all = [...readBinlogFile(readFileSync(f))].map(seen);
    const cut = all[Math.floor(all.length / 2)]!.pos;
    const want = all.filter((e) => e.pos < cut);
    for (const pieceBytes of [64, 1 << 20]) {
      const got: Seen[] = [];
      for await (const batch of streamBinlogFile(f, { pieceBytes, endAt: cut })) for (const e of batch) got.push(seen(e));
      expect(got).toEqual(want);
    }
  });

  it('reads an event much bigger than a piece whole', async () => {
    const f = path.join(FIXTURES, 'mariadb-10.11-crc32', 'bin.000001');
    const events = [...readBinlogFile(readFileSync(f))];
    const biggest = Math.max(...events.map((e) => e.event.raw.length));
    expect(biggest).toBeGreaterThan(19 * 10);
    const got = await streamed(f, 19);
    expect(got.map((e) => e.raw.length / 2)).toEqual(events.map((e) => e.event.raw.length));
  });

  it('fails like readBinlogFile on a file cut anywhere: in the magic, in a header, in an event body', async () => {
    const whole = readFileSync(path.join(FIXTURES, 'mariadb-10.11-crc32', 'bin.000002'));
    const events = [...readBinlogFile(whole)];
    const second = events[1]!.pos;
    const cuts = [0, 2, 4, 4 + 10, second + 5, second + 19, second + 25, whole.length - 1];
    for (const cut of cuts) {
      const bytes = whole.subarray(0, cut);
      const file = path.join(dir, `cut-${cut}`);
      await writeFile(file, bytes);
      const want = await failureOf(() => [...readBinlogFile(bytes)]);
      for (const piece of [19, 64, 1 << 20]) {
        expect(await failureOf(() => streamed(file, piece)), `cut at ${cut}, piece ${piece}`).toBe(want);
      }
      // Cutting at an event boundary is not an error; anywhere else it is.
      const atBoundary = cut === 4 || events.some((e) => e.pos === cut);
      if (!atBoundary) expect(want).toMatch(/^ERR_TRUNCATED: /);
    }
  });

  for (const name of ['binlog_truncated_event.000001', 'binlog_truncated_prev_gtid_event.000001']) {
    it(`truncated/${name} (a real truncated file): the same error as readBinlogFile`, async () => {
      const file = path.join(FIXTURES, 'truncated', name);
      const want = await failureOf(() => [...readBinlogFile(readFileSync(file))]);
      expect(want).toMatch(/^ERR_TRUNCATED: /);
      for (const piece of PIECES) expect(await failureOf(() => streamed(file, piece)), `piece ${piece}`).toBe(want);
    });
  }

  it('fails like readBinlogFile on a corrupted event: the checksum error names the offset', async () => {
    const whole = Buffer.from(readFileSync(path.join(FIXTURES, 'mariadb-10.11-crc32', 'bin.000001')));
    const events = [...readBinlogFile(whole)];
    const victim = events[Math.floor(events.length / 2)]!;
    whole[victim.pos + 19] = whole[victim.pos + 19]! ^ 0xff;
    const file = path.join(dir, 'corrupt');
    await writeFile(file, whole);
    const want = await failureOf(() => [...readBinlogFile(whole)]);
    expect(want).toMatch(new RegExp(`^ERR_CHECKSUM: .*offset ${victim.pos}`));
    for (const piece of [64, 1 << 20]) expect(await failureOf(() => streamed(file, piece))).toBe(want);
    // Without verification the same bytes stream through.
    expect((await streamed(file, 64, false)).length).toBe(events.length);
  });

  it('reports a file it cannot read with ERR_FILE_READ and the path', async () => {
    const missing = path.join(dir, 'no-such-file');
    expect(await failureOf(() => streamed(missing, 64))).toMatch(new RegExp(`^ERR_FILE_READ: cannot open ${missing}: ENOENT`));
    expect(await failureOf(() => streamed(dir, 64))).toMatch(/^ERR_FILE_READ: cannot read .*EISDIR/);
  });

  it('refuses a file that is not a binlog with the same error as readBinlogFile', async () => {
    const file = path.join(dir, 'not-a-binlog');
    const bytes = Buffer.from('-- a SQL dump, not a binlog\n');
    await writeFile(file, bytes);
    const want = await failureOf(() => [...readBinlogFile(bytes)]);
    expect(want).toMatch(/^ERR_MALFORMED: not a binlog file/);
    expect(await failureOf(() => streamed(file, 64))).toBe(want);
  });
});
