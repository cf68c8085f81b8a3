// Child process for test/unit/record-fd-line-sink.test.ts: writes numbered JSON lines to its
// stdout (a pipe whose reader the test holds back), then one JSON summary line on stderr.
//   sink <count> [<pad bytes>]   through fdLineSink(1); its first wait says "full" on stderr so the test
//                  knows the pipe is full before it starts reading; waits are recorded
//   audit <count>  through createAuditLog() with no destination (the function's default)
//   gone <count>   through fdLineSink(1) after the test has closed the reader: lines are lost
import { writeSync } from 'node:fs';
import { fdLineSink } from '../../shared/record/fd-line-sink.js';
import { createAuditLog } from '../../shared/record/audit-log.js';

const [mode = 'sink', countArg = '2000', padArg = '400'] = process.argv.slice(2);
const count = Number(countArg);
// Node makes a pipe on stdout non-blocking once process.stdout is touched, as the Functions
// Framework does at start-up: the condition in which a full pipe answers EAGAIN.
process.stdout.on('error', () => undefined);
process.stdout.write('');
const pad = 'x'.repeat(Number(padArg));
const waits: number[] = [];
const lost: string[] = [];

if (mode === 'audit') {
  const log = createAuditLog({ serviceVersion: 't', projectId: 'p' });
  for (let i = 0; i < count; i++) log.event(`line ${i}`, { seq: i, pad });
} else {
  const sink = fdLineSink(1, {
    sleep: (ms) => {
      if (waits.length === 0) writeSync(2, 'full\n');
      waits.push(ms);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    },
    onLost: (err) => lost.push(err.code ?? err.message),
  });
  if (mode === 'gone') await new Promise((r) => process.stdin.once('data', r));
  for (let i = 0; i < count; i++) sink.write(`${JSON.stringify({ seq: i, pad })}\n`);
}
writeSync(2, `${JSON.stringify({ waits: waits.length, longestWait: Math.max(0, ...waits), lost: lost.length, lostCodes: [...new Set(lost)] })}\n`);
