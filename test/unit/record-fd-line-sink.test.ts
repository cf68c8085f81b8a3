// The audit trail's default destination (shared/record/fd-line-sink.ts) against a real pipe
// whose reader falls behind: every line arrives whole and in order, the writer waits only in
// short steps while the pipe is full (pino's default waits 100 ms per full pipe, stalling
// every finding in flight), and a reader that is gone loses lines without stopping the writer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { LONGEST_WAIT_MS } from '../../shared/record/fd-line-sink.js';

const WRITER = fileURLToPath(new URL('../support/fd-sink-writer.ts', import.meta.url));

interface Summary { waits: number; longestWait: number; lost: number; lostCodes: string[] }

/** Runs the writer; stdout is read only once `release` resolves (the pipe fills meanwhile). */
async function run(mode: string, count: number, release: (stderr: NodeJS.ReadableStream) => Promise<void>, pad = 400): Promise<{ lines: string[]; summary: Summary; code: number | null }> {
  const child = spawn(process.execPath, [WRITER, mode, String(count), String(pad)], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pause();
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const chunks: Buffer[] = [];
  await release(child.stderr);
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stdout.resume();
  const [code] = (await once(child, 'close')) as [number | null];
  const last = err.trim().split('\n').pop() ?? '';
  let summary: Summary;
  try {
    summary = JSON.parse(last) as Summary;
  } catch {
    throw new Error(`writer (${mode}) printed no summary; stderr: ${err.slice(0, 2000)}`);
  }
  return { lines: Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l !== ''), summary, code };
}

const whenFull = (stderr: NodeJS.ReadableStream): Promise<void> =>
  new Promise((resolve) => {
    let seen = '';
    stderr.on('data', (d: string) => {
      seen += d;
      if (seen.includes('full\n')) resolve();
    });
  });

test('a full pipe: every line arrives whole and in order, and the writer waits in steps of at most 4 ms', async () => {
  // 2,000 lines of ~420 bytes: 0.8 MB against a pipe buffer of 64 KiB; reading starts only
  // once the writer has found the pipe full, so the waits are certain, not a race.
  const { lines, summary, code } = await run('sink', 2000, whenFull);
  assert.equal(code, 0);
  assert.ok(summary.waits > 0, 'the pipe was full at least once');
  assert.ok(summary.longestWait <= LONGEST_WAIT_MS, `longest wait ${summary.longestWait} ms`);
  assert.equal(summary.lost, 0);
  assert.equal(lines.length, 2000);
  lines.forEach((line, i) => assert.equal((JSON.parse(line) as { seq: number }).seq, i, `line ${i}`));
});

test('lines larger than the pipe: each is written in parts, never interleaved or cut', async () => {
  const { lines, summary, code } = await run('sink', 40, whenFull, 100 * 1024);
  assert.equal(code, 0);
  assert.ok(summary.waits > 0);
  assert.equal(lines.length, 40);
  lines.forEach((line, i) => {
    const entry = JSON.parse(line) as { seq: number; pad: string };
    assert.equal(entry.seq, i);
    assert.equal(entry.pad.length, 100 * 1024);
  });
});

test('the audit log with no destination (as the function runs it) writes whole lines in order through a pipe that fills', async () => {
  const { lines, code } = await run('audit', 3000, (stderr) => new Promise((r) => setTimeout(r, 300, stderr)));
  assert.equal(code, 0);
  assert.equal(lines.length, 3000);
  lines.forEach((line, i) => {
    const entry = JSON.parse(line) as { message: string; seq: number };
    assert.equal(entry.seq, i);
    assert.equal(entry.message, `line ${i}`);
  });
});

test('a reader that is gone: lines are lost (EPIPE), the writer neither throws nor stops', async () => {
  const child = spawn(process.execPath, [WRITER, 'gone', '50'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.destroy();
  child.stdin.end('go\n');
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0, err);
  const summary = JSON.parse(err.trim().split('\n').pop() ?? '') as Summary;
  assert.equal(summary.lost, 50);
  assert.deepEqual(summary.lostCodes, ['EPIPE']);
});
