// Child processes a test starts (the Pub/Sub emulator, Functions Framework servers) must not
// outlive it, also when it ends without its after() hook: a crash, or the test runner's
// SIGTERM on a file timeout. Node runs no 'exit' handlers on a fatal signal, so the signals
// are caught too: kill what is tracked, then let the signal take its default course.
import type { ChildProcess } from 'node:child_process';

const tracked = new Map<ChildProcess, { group: boolean }>();

/** Sends `signal` to the child (its whole process group when it was spawned detached). */
export function killChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    if (tracked.get(child)?.group) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function killAll(): void {
  for (const child of tracked.keys()) killChild(child, 'SIGKILL');
}

let installed = false;
function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Nobody else handles it (the test runner may): take the signal's default action now.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Kills the child when this process ends, however it ends; forgotten once the child exits. */
export function trackChild(child: ChildProcess, options: { group?: boolean } = {}): void {
  install();
  tracked.set(child, { group: options.group ?? false });
  child.once('exit', () => tracked.delete(child));
}
