// Guaranteed clean-up of what tests start (servers, temp dirs), shared by the MariaDB and etcd harnesses.
//   - onExitOrFatalSignal(fn): runs fn on 'exit', and on SIGTERM/SIGINT/SIGHUP (vitest stops its fork workers
//     with SIGTERM, which skips 'exit' hooks), then lets the signal do what it would have done;
//   - spawnReaper(script, name, args): a tiny shell that reads commands on its stdin and acts when it sees EOF,
//     which happens however this process dies (even SIGKILL). Returns a function that sends it a line.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';

const FATAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export function onExitOrFatalSignal(cleanup: () => void): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup();
    for (const s of FATAL_SIGNALS) process.off(s, onSignal);
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  process.on('exit', cleanup);
  for (const s of FATAL_SIGNALS) process.on(s, onSignal);
}

export function spawnReaper(script: string, name: string, args: string[] = []): (line: string) => void {
  let stdin: Writable | null = null;
  const reaper = spawn('/bin/sh', ['-c', script, name, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  const lose = (): void => {
    stdin = null;
  };
  reaper.once('error', lose);
  reaper.once('exit', lose);
  reaper.stdin.on('error', lose);
  reaper.unref();
  (reaper.stdin as Socket).unref();
  stdin = reaper.stdin;
  return (line) => {
    stdin?.write(`${line}\n`);
  };
}
