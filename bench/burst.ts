// Burst: 1,000 CloudEvents (100 matching, with fresh finding ids; 900 non-matching, the
// added-binary-executed fixture) posted at concurrency 80 to ONE Functions Framework server
// running the built bundle (dist/bundle, as deployed) in a child process.
//
// The fakes (GKE, Kubernetes, Logging, SCC, Pub/Sub) run in this process at zero latency;
// the function's configuration points at them (stack.env()), with the evidence store in the
// fake Cloud Storage (gs://, as deployed: production's store is a bucket, so the burst pays a
// JSON API request per object, not local-disk writes, fsyncs and directory walks the deployed
// function never does; BENCH_BURST_STORE=local measures a local directory instead) and the
// default dry-run policy: every matching finding is fully handled (locate, enrich,
// snapshot into the store, containment planned as "would delete", marks written, result
// published) but no pod is deleted, so all 100 act on the same pod. The function process
// loads the network guard (test/support/network-guard.ts): any non-loopback connection or
// lookup is refused and fails the bench.
//
// Reports completed (204) and failed (anything else, or no answer) deliveries, p50/p99
// latency (post -> response read), and the function process's peak RSS (VmHWM of
// /proc/<pid>/status; VmRSS sampled every 50 ms as a cross-check).
//
// Baseline in the same run: the same 1,000 deliveries to a bare Functions Framework "hello"
// CloudEvent function (bench/hello), started the same way, for the framework's own floor.
//
// Run: `npm run build && npx tsx bench/burst.ts` (or through bench/run.ts, which builds).
// Also measured: one deployed instance's share of that burst (DEPLOYED_SHARE: 100 events, 10
// matching, at concurrency 4 as infra/ deploys it), in a fresh function process, no baseline.
//
// Diagnostics: BENCH_BURST_MATCHING=<n> (matching findings among the 1,000), BENCH_BURST_BASELINE=off,
// BENCH_BURST_SHARE=1 (the deployed share instead of the whole burst),
// BENCH_BURST_STORE=local (the evidence store in a local temp directory instead of the fake bucket),
// BENCH_CPU_PROF=<dir> (CPU profile of the function process, written when it exits),
// BENCH_FUNCTION_NODE_OPTIONS=<flags> (extra Node flags for the function process),
// BENCH_BURST_GCS=1 (prints the fake bucket's requests during the run, by method, object-name shape and status),
// BENCH_BURST_TIMELINE=1 (prints each matching delivery as it is answered: when it was posted, how long it took).
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fixture, structuredEvent } from '../test/support/cloudevents.js';
import { startStack } from '../test/support/stack.js';
import { BENCH_ENV, firstAck, formatTable, percentile, procCpuSeconds, ROOT, startFunction, type Row, type StartedFunction } from './lib.js';

export const BURST_TOTAL = 1_000;
export const BURST_MATCHING = 100;
export const BURST_CONCURRENCY = 80;

/** How many events, how many of them matching, how many posted at once. */
export interface BurstShape {
  total: number;
  matching: number;
  concurrency: number;
}
export const BURST: BurstShape = { total: BURST_TOTAL, matching: BURST_MATCHING, concurrency: BURST_CONCURRENCY };
/**
 * One deployed instance's share of the same burst: infra/ deploys at most `max_instances` (10)
 * instances, each given at most `concurrency` (4) requests at once by Cloud Run's load
 * balancer; the burst above puts 80 at once on one process, which the deployment never does.
 */
export const DEPLOYED_SHARE: BurstShape = { total: BURST_TOTAL / 10, matching: BURST_MATCHING / 10, concurrency: 4 };
export const BURST_P99_TARGET_MS = 2_000;
/** Per-request cap: a delivery not answered by then counts as failed (Pub/Sub would retry). */
const REQUEST_TIMEOUT_MS = 30_000;
const MiB = 1024 * 1024;

interface Delivery {
  matching: boolean;
  body: string;
}

function deliveries(total: number, matchingCount: number, known: (n: unknown) => void): Delivery[] {
  const nonMatching = fixture('added-binary-executed.v1.json');
  const matching = fixture('modified-malicious-binary.v1.json') as { finding: { name: string; canonicalName?: string; eventTime: string } };
  const out: Delivery[] = [];
  const every = matchingCount > 0 ? Math.round(total / matchingCount) : Number.POSITIVE_INFINITY;
  for (let i = 0; i < total; i++) {
    if (i % every === every - 1) {
      // A fresh finding each time (no dedupe between them), detected after the pod was created.
      const n = structuredClone(matching);
      const id = `burst${i.toString().padStart(4, '0')}${Math.random().toString(16).slice(2, 10)}`;
      n.finding.eventTime = new Date().toISOString();
      n.finding.name = n.finding.name.replace(/[^/]+$/, id);
      if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, id);
      // SCC knows it: the function confirms every finding with SCC before any cluster call.
      known(n);
      out.push({ matching: true, body: JSON.stringify(structuredEvent(n, `ce-burst-${i}`)) });
    } else {
      out.push({ matching: false, body: JSON.stringify(structuredEvent(nonMatching, `ce-burst-${i}`)) });
    }
  }
  return out;
}

/** kB values of /proc/<pid>/status fields (Linux). */
function procStatus(pid: number): { rss?: number; hwm?: number } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number | undefined => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : undefined;
    };
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return { ...(rss === undefined ? {} : { rss }), ...(hwm === undefined ? {} : { hwm }) };
  } catch {
    return {};
  }
}


/** What one burst against one function process measured. */
export interface BurstRun {
  completed: number;
  failed: number;
  failures: string[];
  latencies: number[];
  matchingLatencies: number[];
  wallMs: number;
  /** VmHWM at the end: the process's peak RSS since it started. */
  peakRss: number;
  /** VmRSS after start-up (its first ack), before the burst. */
  rssBefore: number;
  peakSampledRss: number;
  /** CPU seconds the function process used during the burst. */
  functionCpuSeconds: number;
  /** CPU seconds this process (fakes + load generator) used during the burst. */
  benchCpuSeconds: number;
}

/** Where the function's evidence store lives during the burst: the fake bucket (as deployed) or a local directory. */
export type BurstStore = 'gcs' | 'local';

export interface BurstResult {
  store: BurstStore;
  shape: BurstShape;
  ours: BurstRun;
  /** The same burst against a bare Functions Framework "hello" CloudEvent function. */
  hello?: BurstRun;
}

/** Waits for the first ack, then posts every delivery, `concurrency` at once, and measures. */
async function burst(fn: StartedFunction, all: readonly Delivery[], concurrency: number): Promise<BurstRun> {
  const ready = await firstAck(fn, all.find((d) => !d.matching)?.body ?? '');
  if (ready.status !== 204) throw new Error(`burst: the function answered ${ready.status} to its first (non-matching) event`);
  const pid = fn.child.pid as number;
  const rssBefore = procStatus(pid).rss ?? 0;
  let peakSampledRss = rssBefore;
  const cpuBefore = procCpuSeconds(pid);
  const benchCpuBefore = process.cpuUsage();
  const sampler = setInterval(() => {
    peakSampledRss = Math.max(peakSampledRss, procStatus(pid).rss ?? 0);
  }, 50);

  const latencies: number[] = [];
  const matchingLatencies: number[] = [];
  const failures: string[] = [];
  let completed = 0;
  let next = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const d = all[i];
      if (d === undefined) return;
      const t = performance.now();
      try {
        const res = await fetch(fn.url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: d.body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        if (res.status === 204) completed += 1;
        else failures.push(`#${i} ${d.matching ? 'matching' : 'non-matching'}: HTTP ${res.status} ${text.slice(0, 200)}`);
      } catch (err) {
        failures.push(`#${i} ${d.matching ? 'matching' : 'non-matching'}: ${err instanceof Error ? err.message : String(err)}`);
      }
      const ms = performance.now() - t;
      latencies.push(ms);
      if (d.matching) matchingLatencies.push(ms);
      if (d.matching && process.env['BENCH_BURST_TIMELINE'] === '1') console.log(`matching #${i}: posted at ${(t - started).toFixed(0)} ms, answered after ${ms.toFixed(0)} ms`);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(sampler);
  }
  const wallMs = performance.now() - started;
  const end = procStatus(pid);
  const functionCpuSeconds = procCpuSeconds(pid) - cpuBefore;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  peakSampledRss = Math.max(peakSampledRss, end.rss ?? 0);
  if (fn.child.exitCode !== null) throw new Error(`burst: the function exited (${fn.child.exitCode}) during the burst`);
  return {
    completed, failed: failures.length, failures, latencies, matchingLatencies, wallMs,
    peakRss: end.hwm ?? peakSampledRss, rssBefore, peakSampledRss, functionCpuSeconds,
    benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
  };
}

/** Diagnostics: the fake bucket's requests by method, object-name shape (ids and numbers as *) and status. */
function gcsRequestSummary(requests: readonly { method: string; path: string; query: string; status?: number }[]): string {
  const counts = new Map<string, number>();
  for (const r of requests) {
    const object = /[?&](?:name|prefix)=([^&]+)/.exec(r.query)?.[1];
    const name = decodeURIComponent(`${r.path}${object === undefined ? '' : ` ${object}`}`).replace(/burst\d{4}[0-9a-f]+/g, '<finding>').replace(/[0-9a-f]{16,}/g, '<hex>').replace(/\d+/g, '*');
    const kind = /uploadType=(\w+)/.exec(r.query)?.[1] ?? (/[?&]prefix=/.test(r.query) ? 'list' : '');
    const k = `${r.method} ${name}${kind ? ` (${kind})` : ''} -> ${r.status ?? '?'}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [`fake bucket: ${requests.length} requests`, ...[...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${String(n).padStart(6)} ${k}`)].join('\n');
}

/**
 * Our function from the bundle, then (unless `baseline` is false) the bare "hello" function
 * with the same deliveries. `matching`: how many of the 1,000 are matching findings
 * (diagnostics: 0 gives the non-matching cost alone).
 */
export async function measureBurst(shape: BurstShape = BURST, baseline = true, store: BurstStore = 'gcs'): Promise<BurstResult> {
  if (!existsSync(path.join(ROOT, 'dist/bundle/index.mjs'))) throw new Error('burst: dist/bundle/index.mjs missing: run `npm run build` first');
  for (const k of ['METADATA_SERVER_DETECTION', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'] as const) process.env[k] ??= BENCH_ENV[k];
  const stack = await startStack();
  const all = deliveries(shape.total, shape.matching, (n) => stack.known(n));
  const evidenceDir = await mkdtemp(path.join(tmpdir(), 'scc-bench-burst-'));
  const guard = path.join(ROOT, 'test/support/network-guard.ts');
  let ours: BurstRun;
  try {
    const fn = await startFunction('sccResponder', ROOT, {
      // stack.env() points the evidence store at the fake bucket (gs://); 'local' overrides it.
      ...stack.env(store === 'local' ? { SCC_RESPONDER_EVIDENCE: evidenceDir } : {}),
      // The default dry-run policy (no SCC_RESPONDER_POLICY). Node 22 strips the guard's types.
      // BENCH_CPU_PROF=<dir>: diagnostics, a CPU profile of the function process written on exit.
      // BENCH_FUNCTION_NODE_OPTIONS: diagnostics, extra Node flags for the function process (e.g. GC tuning).
      NODE_OPTIONS: `--no-warnings --import ${guard}${process.env['BENCH_CPU_PROF'] ? ` --cpu-prof --cpu-prof-interval=250 --cpu-prof-dir=${process.env['BENCH_CPU_PROF']}` : ''}${process.env['BENCH_FUNCTION_NODE_OPTIONS'] ? ` ${process.env['BENCH_FUNCTION_NODE_OPTIONS']}` : ''}`,
    });
    const refused: string[] = [];
    fn.child.stderr?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.includes('network-guard: refused')) refused.push(line);
    });
    try {
      ours = await burst(fn, all, shape.concurrency);
    } finally {
      await fn.stop();
    }
    if (refused.length > 0) throw new Error(`burst: the function tried to leave loopback: ${refused.slice(0, 3).join('; ')}`);
    if (process.env['BENCH_BURST_GCS'] === '1') console.log(gcsRequestSummary(stack.gcs.requests));
  } finally {
    await stack.close();
    await rm(evidenceDir, { recursive: true, force: true });
  }
  if (!baseline) return { store, shape, ours };
  const hello = await startFunction('hello', path.join(ROOT, 'bench/hello'));
  try {
    return { store, shape, ours, hello: await burst(hello, all, shape.concurrency) };
  } finally {
    await hello.stop();
  }
}

export function burstRows({ store, shape, ours: r, hello: h }: BurstResult, section = 'burst'): Row[] {
  const p50 = percentile(r.latencies, 50);
  const p99 = percentile(r.latencies, 99);
  const mp50 = percentile(r.matchingLatencies, 50);
  const mp99 = percentile(r.matchingLatencies, 99);
  const setup = `${shape.total} CloudEvents (${r.matchingLatencies.length} matching, default dry-run policy, evidence store: ${store === 'gcs' ? 'fake Cloud Storage bucket, as deployed' : 'local directory'}) at concurrency ${shape.concurrency} to one FF server (dist/bundle, child process); fakes at zero latency in the bench process${h ? '; baseline: the same burst to a bare FF "hello" function' : ''}`;
  const vs = (value: number, base: number | undefined): Pick<Row, 'baseline' | 'ratio'> => (base === undefined ? {} : { baseline: base, ratio: value / base });
  return [
    { section, metric: 'completed (204)', value: r.completed, unit: 'events', target: `${shape.total}`, pass: r.completed === shape.total, note: `${setup}; ${(r.wallMs / 1000).toFixed(1)} s wall (hello ${h ? (h.wallMs / 1000).toFixed(1) : '?'} s); CPU during the burst: function ${r.functionCpuSeconds.toFixed(1)} s (hello ${h?.functionCpuSeconds.toFixed(1) ?? '?'} s), fakes + load generator ${r.benchCpuSeconds.toFixed(1)} s` },
    { section, metric: 'failed (non-204 or no answer)', value: r.failed, unit: 'events', target: '0', pass: r.failed === 0, ...(r.failed > 0 ? { note: r.failures.slice(0, 3).join(' | ') } : {}) },
    { section, metric: 'latency p50', value: p50, unit: 'ms', ...vs(p50, h ? percentile(h.latencies, 50) : undefined), note: `matching findings alone: p50 ${mp50.toFixed(0)} ms, p99 ${mp99.toFixed(0)} ms` },
    { section, metric: 'latency p99', value: p99, unit: 'ms', ...vs(p99, h ? percentile(h.latencies, 99) : undefined), target: `< ${BURST_P99_TARGET_MS} ms`, pass: p99 < BURST_P99_TARGET_MS },
    { section, metric: 'function peak RSS (VmHWM)', value: r.peakRss / MiB, unit: 'MiB', ...vs(r.peakRss / MiB, h ? h.peakRss / MiB : undefined), note: `RSS ${(r.rssBefore / MiB).toFixed(0)} MiB after start-up (first ack), sampled peak ${(r.peakSampledRss / MiB).toFixed(0)} MiB` },
  ];
}

export async function runBurstBench(): Promise<Row[]> {
  const rows = burstRows(await measureBurst());
  // The same target for one deployed instance's share (a fresh process, no baseline).
  const share = burstRows(await measureBurst(DEPLOYED_SHARE, false), 'burst, one deployed instance\'s share');
  return [...rows, ...share.filter((x) => !x.metric.startsWith('function peak RSS'))];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = process.env['BENCH_BURST_SHARE'] === '1' ? DEPLOYED_SHARE : BURST;
  const shape = process.env['BENCH_BURST_MATCHING'] === undefined ? base : { ...base, matching: Number(process.env['BENCH_BURST_MATCHING']) };
  const r = await measureBurst(shape, process.env['BENCH_BURST_BASELINE'] !== 'off', process.env['BENCH_BURST_STORE'] === 'local' ? 'local' : 'gcs');
  console.log(formatTable(burstRows(r)));
  if (r.ours.failures.length > 0) console.log(`\nfailures (first 10):\n${r.ours.failures.slice(0, 10).join('\n')}`);
  process.exit(0);
}
