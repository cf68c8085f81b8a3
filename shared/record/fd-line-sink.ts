// Where the audit trail's lines go by default: straight to a file descriptor (stdout), each line
// written whole before the caller goes on, as pino's own sync destination does; so a line the
// function wrote is in the kernel's hands even if the process dies a moment later.
//
// Why not pino's default (sonic-boom, sync): stdout is a pipe that Node makes non-blocking,
// and when its reader falls behind (a burst of findings, a busy log collector) the write
// fails with EAGAIN; sonic-boom then blocks the whole event loop for a fixed 100 ms
// (BUSY_WRITE_TIMEOUT) before it tries again. Every finding in flight stalls with it: in the
// burst bench six such pauses held the process for 0.6 s. Here the wait is as short as the
// reader needs: the write is retried after 0.25 ms, doubling to at most 4 ms.
import { writeSync } from 'node:fs';

/** The part of pino's DestinationStream this sink provides. */
export interface LineSink {
  write(line: string): void;
  /** Nothing is ever held back, so a flush has nothing to wait for. */
  flush(cb: (err?: Error) => void): void;
}

export interface FdLineSinkOptions {
  /** Blocks the thread for `ms` milliseconds (default: Atomics.wait on a private buffer). */
  sleep?: (ms: number) => void;
  /** Called once per line that could not be written at all (the reader is gone: EPIPE, EBADF). */
  onLost?: (err: NodeJS.ErrnoException, line: string) => void;
}

export const FIRST_WAIT_MS = 0.25;
export const LONGEST_WAIT_MS = 4;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
const atomicSleep = (ms: number): void => {
  Atomics.wait(sleepCell, 0, 0, ms);
};

function isBusy(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EAGAIN' || code === 'EBUSY';
}

/** A sink that writes every line to `fd` synchronously, waiting briefly while the reader is behind. */
export function fdLineSink(fd: number, options: FdLineSinkOptions = {}): LineSink {
  const sleep = options.sleep ?? atomicSleep;
  const writeWhole = (line: string): void => {
    let rest = Buffer.from(line, 'utf8');
    let wait = FIRST_WAIT_MS;
    while (rest.length > 0) {
      try {
        rest = rest.subarray(writeSync(fd, rest));
        wait = FIRST_WAIT_MS;
      } catch (err) {
        if (!isBusy(err)) throw err;
        sleep(wait);
        wait = Math.min(wait * 2, LONGEST_WAIT_MS);
      }
    }
  };
  return {
    write(line: string): void {
      try {
        writeWhole(line);
      } catch (err) {
        // A reader that is gone cannot be waited for; the caller's work must go on without it.
        options.onLost?.(err as NodeJS.ErrnoException, line);
      }
    },
    flush(cb: (err?: Error) => void): void {
      cb();
    },
  };
}
