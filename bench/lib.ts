// Shared helpers for the benchmarks: free ports, starting a Functions Framework server as a
// child process, timing the first acknowledged event, RSS sampling, and the result table.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface Row {
  section: string;
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline, or the target comparison when there is no baseline. */
  ratio?: number;
  target?: string;
  pass?: boolean;
  note?: string;
}

export const ROOT = path.resolve(new URL('..', import.meta.url).pathname);

export const BENCH_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  METADATA_SERVER_DETECTION: 'none',
  GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/scc-responder-bench-credentials.json',
  GOOGLE_CLOUD_PROJECT: 'scc-responder-bench',
  NODE_OPTIONS: '',
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface StartedFunction {
  child: ChildProcess;
  port: number;
  url: string;
  startedAt: number;
  stop(): Promise<void>;
}

/** Starts `functions-framework` directly (not through npx: killing a wrapper leaks the server). */
export async function startFunction(target: string, source: string, env: NodeJS.ProcessEnv = {}): Promise<StartedFunction> {
  const port = await freePort();
  const main = path.join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');
  const startedAt = performance.now();
  const child = spawn(process.execPath, [main, `--target=${target}`, `--source=${source}`, `--port=${port}`, '--signature-type=cloudevent'], {
    cwd: ROOT,
    env: { ...BENCH_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString();
  });
  child.once('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`function ${target} exited ${code}: ${stderr}\n`);
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}/`,
    startedAt,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Posts until the server answers (connection refused while it starts); returns ms since start and the status. */
export async function firstAck(fn: StartedFunction, body: string, deadlineMs = 30_000): Promise<{ ms: number; status: number }> {
  for (;;) {
    try {
      const res = await fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body });
      await res.arrayBuffer();
      return { ms: performance.now() - fn.startedAt, status: res.status };
    } catch {
      if (performance.now() - fn.startedAt > deadlineMs) throw new Error(`function did not answer within ${deadlineMs} ms`);
      await sleep(2);
    }
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

/** Samples this process's RSS every `everyMs`; returns a stopper giving the peak growth in bytes. */
export function sampleRss(everyMs = 10): { stop(): number } {
  const base = process.memoryUsage.rss();
  let peak = base;
  const t = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, everyMs);
  return {
    stop() {
      clearInterval(t);
      peak = Math.max(peak, process.memoryUsage.rss());
      return peak - base;
    },
  };
}

export function formatTable(rows: readonly Row[]): string {
  const head = ['section', 'metric', 'value', 'baseline', 'ratio', 'target', 'ok'];
  const cells = rows.map((r) => [
    r.section,
    r.metric,
    `${fmt(r.value)} ${r.unit}`,
    r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`,
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}x`,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), ...rows.filter((r) => r.note).map((r) => `  note (${r.section} ${r.metric}): ${r.note}`)].join('\n');
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux). */
export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}
