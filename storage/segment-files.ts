/**
 * Segment data kept next to LevelDB, in plain append-only files, for the big groups of a bulk ingest.
 *
 * Why: LevelDB writes every byte of a value twice (its log, then a table) and checksums it each time; it
 * copies each value into its write batch on the calling thread; and it memory-maps the tables it keeps open,
 * so the pages of every table a reader touched count in the daemon's RSS. A group of at least
 * `externalGroupBytes` (StoreOptions, default 1 MiB) writes its segments here instead: one `writev` of the
 * slabs, one `fdatasync`, and LevelDB gets a 21-byte pointer per segment under the segment's usual key, in the
 * same synced batch as before. Readers fill a buffer per segment from a run of consecutive pointers with one
 * `preadv`: page cache, not the RSS.
 *
 * Layout: `<store>/segments/<first unit, 16 digits>.seg`. A file holds the external segments of the units from
 * its name up to the next file's name (exclusive); a new file starts with each binlog file and once the current
 * one holds FILE_ROLL_BYTES, so a purge (of whole binlog files) deletes whole files: a file goes once the next
 * file's first unit is purged too.
 *
 * Order: the bytes are durable before LevelDB's batch with their pointers is written, so a pointer never
 * names missing bytes. A crash between the two leaves bytes no pointer names at the end of the newest file:
 * they stay there, unused (at most one group), and the next append goes after them or over them.
 *
 * Small groups (live replication: one or a few transactions per group commit) stay inline in LevelDB:
 * their latency is one fsync, not two, and their tables are small (LevelDB's 1 MiB memtable flushes).
 */
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { corrupt, StorageError } from './errors.js';
import { decodeLogKey, isCheckpointKey } from './keys.js';
import { decodePointer, SEGMENT_FORMAT, type SegmentPointer } from './records.js';

/** Groups with at least this many bytes of events write their segments to the files (default of the option). */
export const EXTERNAL_GROUP_BYTES = 1 << 20;
/** A new file starts once the current one holds this much (default of the option). */
export const FILE_ROLL_BYTES = 256 << 20;
/** Segment files kept open once idle (the newest, being appended to, and files being read stay open too). */
const MAX_OPEN_FILES = 32;
/** Largest single read when resolving a run of consecutive pointers. */
const MAX_READ_BYTES = 4 << 20;

function fileName(first: number): string {
  return `${String(first).padStart(16, '0')}.seg`;
}

const FILE_NAME = /^(\d{16})\.seg$/;

export class SegmentFiles {
  /** First units of the files, ascending. */
  private readonly names: number[];
  /** Open files, least recently used first; at most MAX_OPEN_FILES stay open once idle. */
  private readonly handles = new Map<number, FileHandle>();
  /** Reads and writes in progress per file (a file in use is never closed). */
  private readonly busy = new Map<number, number>();
  /** Where the next append to the newest file goes (its size, unless a failed write left bytes after it). */
  private appendAt = -1;

  private constructor(
    readonly dir: string,
    private readonly rollBytes: number,
    names: number[],
  ) {
    this.names = names;
  }

  /** Lists the files of `dir` (which need not exist yet: it is made at the first append). */
  static async open(dir: string, rollBytes = FILE_ROLL_BYTES): Promise<SegmentFiles> {
    let entries: string[] = [];
    try {
      entries = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError('ERR_STORAGE_IO', `cannot read ${dir}`, { cause: err });
    }
    const names: number[] = [];
    for (const e of entries) {
      const m = FILE_NAME.exec(e);
      if (m) names.push(Number(m[1]));
    }
    names.sort((a, b) => a - b);
    return new SegmentFiles(dir, rollBytes, names);
  }

  /** Number of files. */
  get fileCount(): number {
    return this.names.length;
  }

  /**
   * Appends `values` (segments of units from `firstSeq` on, in order) to the newest file, and makes them
   * durable; returns a pointer per value. A new file, named `firstSeq`, starts when there is none, when the
   * newest is full, or with `newFile` (the first unit of a binlog file: a purge then frees the segment files
   * of the binlog files it removes).
   */
  async append(firstSeq: number, values: readonly Buffer[], newFile = false): Promise<SegmentPointer[]> {
    let file = this.names[this.names.length - 1];
    // A newest file named after firstSeq (left by a crash before its pointers were written) is appended to.
    if (file === undefined || (file < firstSeq && (newFile || (await this.sizeForAppend(file)) >= this.rollBytes))) {
      await mkdir(this.dir, { recursive: true });
      file = firstSeq;
      this.handles.set(file, await open(path.join(this.dir, fileName(file)), 'wx+'));
      this.names.push(file);
      this.appendAt = 0;
    }
    const start = await this.sizeForAppend(file);
    let total = 0;
    for (const v of values) total += v.length;
    await this.using(file, async (fh) => {
      // positioned writes: after a failed one, the next overwrites whatever it left
      let written = 0;
      while (written < total) {
        const { bytesWritten } = await fh.writev(written === 0 ? (values as Buffer[]) : remaining(values, written), start + written);
        written += bytesWritten;
      }
      await fh.datasync();
    });
    this.appendAt = start + total;
    const out: SegmentPointer[] = [];
    let offset = start;
    for (const v of values) {
      out.push({ file, offset, length: v.length });
      offset += v.length;
    }
    return out;
  }

  private async sizeForAppend(file: number): Promise<number> {
    if (this.appendAt < 0) this.appendAt = await this.using(file, async (fh) => (await fh.stat()).size);
    return this.appendAt;
  }

  /** Runs `fn` with the file open (opened if needed); idle files beyond MAX_OPEN_FILES are closed afterwards. */
  private async using<T>(file: number, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    this.busy.set(file, (this.busy.get(file) ?? 0) + 1);
    try {
      let fh = this.handles.get(file);
      if (fh === undefined) {
        try {
          fh = await open(path.join(this.dir, fileName(file)), 'r+');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw corrupt(`segment file ${fileName(file)} is missing from ${this.dir}`);
          throw new StorageError('ERR_STORAGE_IO', `cannot open segment file ${fileName(file)}`, { cause: err });
        }
        // Opened meanwhile by another caller: keep one.
        const other = this.handles.get(file);
        if (other !== undefined) {
          await fh.close();
          fh = other;
        }
      }
      this.handles.delete(file);
      this.handles.set(file, fh); // most recently used last
      return await fn(fh);
    } finally {
      const n = this.busy.get(file)! - 1;
      if (n === 0) this.busy.delete(file);
      else this.busy.set(file, n);
      await this.closeIdle();
    }
  }

  private async closeIdle(): Promise<void> {
    if (this.handles.size <= MAX_OPEN_FILES) return;
    const newest = this.names[this.names.length - 1];
    for (const [file, fh] of this.handles) {
      if (this.handles.size <= MAX_OPEN_FILES) break;
      if (file === newest || this.busy.has(file)) continue;
      this.handles.delete(file);
      await fh.close();
    }
  }

  /**
   * Replaces the pointer values of log entries by the segments they name (in place; returns `entries`).
   * Consecutive pointers into one file are read with one read. A pointer past the end of its file is
   * ERR_STORAGE_CORRUPT.
   */
  async resolve(entries: Array<[Buffer, Buffer]>): Promise<Array<[Buffer, Buffer]>> {
    let i = 0;
    while (i < entries.length) {
      const p = pointerOf(entries[i]!);
      if (p === null) {
        i++;
        continue;
      }
      // The run of pointers contiguous in the same file, each with a buffer of its own, filled by one preadv:
      // a view into a shared buffer would keep the whole read alive for as long as any one segment of it is
      // (in the shared read cache, say).
      const values = [Buffer.allocUnsafeSlow(p.length)];
      let j = i + 1;
      let end = p.offset + p.length;
      for (; j < entries.length; j++) {
        const q = pointerOf(entries[j]!);
        if (q === null || q.file !== p.file || q.offset !== end || end + q.length - p.offset > MAX_READ_BYTES) break;
        values.push(Buffer.allocUnsafeSlow(q.length));
        end += q.length;
      }
      await this.read(p.file, p.offset, values, entries[i]![0]);
      for (let k = i; k < j; k++) {
        const value = values[k - i]!;
        if (value[0] !== SEGMENT_FORMAT) throw corrupt(`${describe(entries[k]![0])}: the bytes its pointer names are not a segment`);
        entries[k] = [entries[k]![0], value];
      }
      i = j;
    }
    return entries;
  }

  /** One entry's value, resolved. */
  async resolveOne(entry: [Buffer, Buffer]): Promise<[Buffer, Buffer]> {
    return (await this.resolve([entry]))[0]!;
  }

  /** Fills `bufs` from `offset` of `file` (one preadv, more only after a short read). */
  private async read(file: number, offset: number, bufs: Buffer[], key: Buffer): Promise<void> {
    let length = 0;
    for (const b of bufs) length += b.length;
    await this.using(file, async (fh) => {
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.readv(got === 0 ? bufs : remaining(bufs, got), offset + got);
        if (bytesRead === 0) throw corrupt(`${describe(key)}: its segment file ${fileName(file)} ends before byte ${offset + length}`);
        got += bytesRead;
      }
    });
  }

  /** Deletes the files whose units are all before `firstSeq` (the purge); returns how many. The newest stays. */
  async removeBefore(firstSeq: number): Promise<number> {
    let n = 0;
    while (this.names.length > 1 && this.names[1]! <= firstSeq) {
      const file = this.names.shift()!;
      const fh = this.handles.get(file);
      this.handles.delete(file);
      await fh?.close();
      try {
        await unlink(path.join(this.dir, fileName(file)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new StorageError('ERR_STORAGE_IO', `cannot delete segment file ${fileName(file)}`, { cause: err });
      }
      n++;
    }
    return n;
  }

  async close(): Promise<void> {
    const hs = [...this.handles.values()];
    this.handles.clear();
    this.appendAt = -1;
    await Promise.all(hs.map((h) => h.close()));
  }
}

/** Bytes of segment data a log entry stands for: its pointer's length, or its value's. */
export function storedLength(entry: [Buffer, Buffer]): number {
  return pointerOf(entry)?.length ?? entry[1].length;
}

/** The pointer of a log entry: a segment's (never a checkpoint's) value in pointer form. */
function pointerOf(entry: [Buffer, Buffer]): SegmentPointer | null {
  return isCheckpointKey(entry[0]) ? null : decodePointer(entry[1]);
}

/** The segment a pointer entry stands for (never a checkpoint: see pointerOf). */
function describe(key: Buffer): string {
  const k = decodeLogKey(key);
  return `segment ${k.seq}/${k.sub}`;
}

/** The part of `values` after the first `skip` bytes (a retry of a short writev or readv). */
function remaining(values: readonly Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const v of values) {
    if (skip >= v.length) {
      skip -= v.length;
      continue;
    }
    out.push(skip > 0 ? v.subarray(skip) : v);
    skip = 0;
  }
  return out;
}
