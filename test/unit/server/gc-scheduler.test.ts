// GcScheduler: the daemon asks V8 for a full collection after every `everyBytes` of buffers let go.
import { describe, expect, it } from 'vitest';
import { GcScheduler } from '../../../src/memory.js';

describe('GcScheduler', () => {
  it('asks for one async major collection per everyBytes released, not before', () => {
    const calls: unknown[] = [];
    const s = new GcScheduler((o) => calls.push(o), 1000);
    s.released(400);
    s.released(599);
    expect(calls).toHaveLength(0);
    s.released(1);
    expect(calls).toEqual([{ type: 'major', execution: 'async' }]);
    for (let i = 0; i < 25; i++) s.released(100); // 2500 more: two more collections, 500 pending
    expect(calls).toHaveLength(3);
    expect(s.collections).toBe(3);
  });
});
