// Types of units.mjs (a plain ESM module so that the crash child can run it without a build).
export declare const UUID: string;
export declare function prng(seed: number): () => number;
export declare function eventsOf(seq: number, count: number, avg: number, pos: bigint, ts: number, only?: number): Buffer[];
export declare function checkEvent(e: Buffer, pos: bigint): { seq: number; index: number; count: number };
