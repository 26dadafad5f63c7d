// Crash-test child: appends to a store under load until the parent kills it with SIGKILL.
//
//   node test/storage-crash/child.mjs <build dir> <store dir> <seed> <group|fsync> [pause-in-txn]
//
// It imports the compiled storage layer from <build dir> (see crash.test.ts), opens the store, continues the
// log from the recovered state, and appends forever: small transactions, control units, file rotations,
// units larger than a chunk given to append(), streamed (chunked) transactions of several MB, and purges.
// Every event's body starts with (seq u32, index u16, count u16) and continues with bytes derived from them, so
// the parent can check each stored unit without knowing what the child decided (units.mjs).
// It prints `R <lastSeq>` once open, and `D <seq>` whenever unit <seq> is known to be durable. With
// `pause-in-txn` it prints `S <seq>` in the middle of a streamed transaction and pauses there.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { eventsOf, prng, UUID } from './units.mjs';

const [buildDir, storeDir, seedText, durability, pause] = process.argv.slice(2);
const pauseInTxn = pause === 'pause-in-txn';
const { openStore } = await import(pathToFileURL(path.join(buildDir, 'storage', 'index.js')).href);

// 'group-external': group durability with every group's segments in the segment files (externalGroupBytes 1).
const external = durability === 'group-external';
const store = await openStore(storeDir, {
  flavor: 'mysql',
  durability: external ? 'group' : durability,
  chunkBytes: 256 << 10,
  checkpointUnits: 64,
  ...(external ? { externalGroupBytes: 1 } : {}),
});
let st = store.getState();
process.stdout.write(`R ${st.lastSeq}\n`);
const rnd = prng(Number(seedText));

let file = st.lastFile;
let pos = st.lastPos;
let seq = st.lastSeq;
let fileNo = file === null ? 0 : Number(file.split('.')[1]);
const ts = () => 1_700_000_000 + seq;

async function newFile() {
  fileNo++;
  file = `bin.${String(fileNo).padStart(6, '0')}`;
  pos = 4n;
  const [fde] = eventsOf(seq + 1, 1, 60, pos, ts());
  await append({ events: [fde], kind: 'control', newFile: { fde } });
  const [prev] = eventsOf(seq + 1, 1, 40, pos, ts());
  await append({ events: [prev], kind: 'control', fileStartGtids: seq > 0 ? `${UUID}:1-${seq}` : '' });
}

async function append(u) {
  const s = seq + 1;
  const r = await store.append({ file, pos, timestamp: ts(), ...u });
  if (r.seq !== s) throw new Error(`expected seq ${s}, got ${r.seq}`);
  seq = s;
  pos = r.endPos;
}

if (file === null) await newFile();
for (let round = 0; ; round++) {
  // In pause-in-txn mode the 20th action is a streamed transaction.
  const x = pauseInTxn && round === 20 ? 0.012 : rnd();
  if (x < 0.01) {
    const [rot] = eventsOf(seq + 1, 1, 30, pos, ts());
    await append({ events: [rot], kind: 'control' });
    await newFile();
  } else if (x < 0.015) {
    // A streamed transaction of 2-6 MB in 200 KB events.
    const s = seq + 1;
    const n = 10 + Math.floor(rnd() * 20);
    const txn = await store.beginTransaction({ file, pos, timestamp: ts(), gtid: { uuid: UUID, tag: '', gno: BigInt(s) } });
    let at = pos;
    for (let i = 0; i < n; i++) {
      const [e] = eventsOf(s, n, 200_000, at, ts(), i);
      at += BigInt(e.length);
      await txn.write(e);
      if (i === 3 && pauseInTxn) {
        // Chunks 0-1 are on disk now: tell the parent, which kills us in the middle of this transaction.
        process.stdout.write(`S ${s}\n`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    const r = await txn.commit();
    seq = s;
    pos = r.endPos;
    await store.waitDurable(s);
    process.stdout.write(`D ${s}\n`);
  } else if (x < 0.02) {
    // One unit larger than a chunk, given whole to append().
    const n = 8;
    await append({ events: eventsOf(seq + 1, n, 60_000, pos, ts()), kind: 'transaction', gtid: { uuid: UUID, tag: '', gno: BigInt(seq + 1) } });
  } else if (x < 0.021) {
    const r = await store.purge({ maxSize: 8 << 20 });
    st = store.getState();
    if (r.files.length > 0) process.stdout.write(`P ${st.firstSeq}\n`);
  } else {
    const n = 1 + Math.floor(rnd() * 6);
    await append({ events: eventsOf(seq + 1, n, 200, pos, ts()), kind: 'transaction', gtid: { uuid: UUID, tag: '', gno: BigInt(seq + 1) } });
    if (seq % 97 === 0) {
      await store.waitDurable(seq);
      process.stdout.write(`D ${seq}\n`);
    }
  }
}
