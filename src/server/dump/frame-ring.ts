/**
 * A fixed ring of memory for framed packets that are only ever read synchronously (copied into an output's
 * coalescing buffer the moment they are used). Space is handed out in order and wraps around; what was
 * written a whole ring ago is overwritten, and `holds()` tells whether a slice handed out earlier is still
 * intact. A cache of framed runs kept in such a ring costs its size once, however many runs pass through it,
 * instead of one buffer per run that the garbage collector frees at its next full collection.
 */
export interface RingSlice {
  /** The bytes written (a view of the ring: valid only while `holds()` says so). */
  bytes: Buffer;
  lap: number;
  start: number;
}

export class FrameRing {
  private ring: Buffer | null = null;
  private pos = 0;
  /**
   * How far this lap's writes reached: the end of the furthest room handed out, not of the bytes kept. A write
   * may use all of its room as scratch space (framePackets copies a whole span to the room's end before moving
   * the events down), so the part of a room it gives back holds garbage, not the previous lap's frames.
   */
  private reached = 0;
  private lap = 0;

  constructor(readonly size: number) {}

  /**
   * Frames into the next `room` bytes of the ring with `write(buf, start)`, which may write anywhere in
   * [start, start + room) and returns where the bytes it keeps end (at most start + room); the rest of the room
   * is handed out again. `room` must be at most the ring's size.
   */
  write(room: number, write: (buf: Buffer, start: number) => number): RingSlice {
    if (room > this.size) throw new RangeError(`FrameRing: ${room} bytes do not fit a ring of ${this.size}`);
    const ring = (this.ring ??= Buffer.allocUnsafeSlow(this.size));
    if (this.pos + room > this.size) {
      this.lap++;
      this.pos = 0;
      this.reached = 0;
    }
    const start = this.pos;
    if (start + room > this.reached) this.reached = start + room;
    const end = write(ring, start);
    if (end < start || end > start + room) throw new RangeError(`FrameRing: wrote to ${end}, outside [${start}, ${start + room}]`);
    this.pos = end;
    return { bytes: ring.subarray(start, end), lap: this.lap, start };
  }

  /** True while the slice has not been overwritten (nor used as scratch space by a later write). */
  holds(s: RingSlice): boolean {
    return s.lap === this.lap || (s.lap === this.lap - 1 && s.start >= this.reached);
  }
}
