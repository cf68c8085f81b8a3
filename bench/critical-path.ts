// Critical path: finding received -> pod deleted, with 25 ms of latency injected into every
// call of every fake (GKE, Kubernetes REST and exec, Logging, SCC, Pub/Sub, Cloud Storage),
// reported as a multiple of that round trip, cold (a fresh runtime: new GKE directory and
// clients, nothing cached) and warm (the next finding on the same runtime).
//
// Runs in-process through handleMessage() with the runtime the function builds, the enforce
// policy (delete pods of production Deployments) and a LOCAL evidence store (a temp directory),
// so the store adds no network round trip. The fakes run in this process too; every call
// record (FaultPlan.calls) uses performance.now(), the clock the bench uses, so "pod deleted"
// is the moment fake-kube receives the DELETE, before its own injected 25 ms.
//
// Also measures the CPU time spent in our own code (shared/, functions/) during a warm
// finding, from a node:inspector CPU profile sampled every 100 µs: the self time of samples
// whose top frame is one of our source files. The fakes (test/) and libraries
// (node_modules/) are excluded.
//
// Module loading (the first matching finding imports the adapters and the client libraries)
// is not a round trip: one discarded warm-up round loads it before the measured rounds.
//
// Run: `npx tsx bench/critical-path.ts` (or through bench/run.ts). BENCH_CONNECT_RT=2 also
// charges each new connection to the API server two round trips (TCP + TLS 1.3).
import { mkdtemp, rm } from 'node:fs/promises';
import { Session, type Profiler } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRuntime, type Runtime } from '../functions/composition/runtime.js';
import { handleMessage } from '../shared/respond/handle.js';
import { freshFinding, structuredEvent } from '../test/support/cloudevents.js';
import type { CallRecord, FaultPlan } from '../test/support/faults.js';
import { DEPLOY_POD, NS } from '../test/support/fake-kube-world.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { BENCH_ENV, formatTable, median, ROOT, type Row } from './lib.js';

export const INJECTED_LATENCY_MS = 25;
// The floor (warm), each call needing the one before it: the finding confirmed with SCC (before
// any cluster call), the pod read (UID precondition, container state, the uid the collector
// runs as), the collector added (PATCH ephemeralcontainers, with a watch of the pod opened
// beside it, so its "running" event costs no call of its own), one round of reads in the
// collector (`find /proc ... -exec ls -ln {} +` names the exe links, cmdlines, status, stat and
// fds itself, beside `ls /proc` and the net tables; argv only, no glob), then
// `cat /proc/<pid>/exe` into the store: 5 calls (7 before the watch and the find). With the
// finding's whole-file SHA-256 (the fixture's, as Container Threat Detection's) the copy goes
// with that round (`cat /proc/1/root<path>`, kept only if its hash matches): 4 calls. Left in
// front of the DELETE besides calls: the commits of the binary and volatile.json (side by side:
// one round trip on a bucket) and the budget slot (create-only, the budget decision itself),
// local-store writes here. The targets: those 4 calls, one round trip for the commits (a bucket's)
// and one of slack for our CPU; cold adds client construction and connections.
// (Before the SCC confirmation and the trusted collector the targets were 3 and 4 RT.)
export const WARM_TARGET_RT = 6;
export const COLD_TARGET_RT = 7;
export const OWN_CPU_TARGET_MS = 15;
const POLICY = path.join(ROOT, 'policies/enforce-delete-for-deployments.yaml');
const SAMPLING_INTERVAL_US = 100;
const OWN_CODE = [`file://${ROOT}/shared/`, `file://${ROOT}/functions/`];



function plans(stack: Stack): Record<string, FaultPlan> {
  return { kube: stack.world.kube.faults, gke: stack.world.gke.faults, logging: stack.world.logging.faults, scc: stack.scc.faults, pubsub: stack.pubsub.faults, gcs: stack.gcs.faults };
}

export interface TimedCall {
  fake: string;
  key: string;
  /** ms after the finding was handed to handleMessage. */
  start: number;
  end?: number;
}

export interface FindingRun {
  /** Finding handed over -> fake-kube received the DELETE of the pod. */
  toDeleteReceivedMs: number;
  /** Finding handed over -> the DELETE answered (its injected latency included). */
  toDeleteAnsweredMs: number;
  /** Finding handed over -> handleMessage returned (enrichment and record steps included). */
  totalMs: number;
  disposition: string;
  calls: TimedCall[];
  /** Own CPU over the whole handleMessage (profiled runs only). */
  ownCpuMs?: number;
  /** Own CPU from the finding to the DELETE received (profiled runs only). */
  ownCpuToDeleteMs?: number;
  /** Our own code's self time by function (profiled runs only), largest first. */
  ownCpuTop?: { fn: string; ms: number }[];
  /** When the profile started, ms relative to the finding (first sample; clock alignment check: a little below 0). */
  profileStartMs?: number;
}

/** Evidence-store operations seen by `traceStore` (diagnostics: local disk, not a fake). */
const storeOps: CallRecord[] = [];

/**
 * Diagnostics (--verbose): records every evidence-store call of this runtime with its
 * duration, so the timeline shows the local-disk work between the fake calls. Only after the
 * cold finding (building the adapters early would hide client construction from it).
 */
async function traceStore(runtime: Runtime): Promise<void> {
  const store = (await runtime.adapters()).evidence as unknown as Record<string, unknown> | undefined;
  if (!store || store['__traced']) return;
  store['__traced'] = true;
  for (const m of ['stat', 'create', 'readText', 'list']) {
    const fn = store[m];
    if (typeof fn !== 'function') continue;
    store[m] = async (...args: unknown[]): Promise<unknown> => {
      const rec: CallRecord = { key: `${m} ${String(args[0]).split('/').slice(-2).join('/')}`, start: performance.now() };
      storeOps.push(rec);
      try {
        return await (fn as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } finally {
        rec.end = performance.now();
      }
    };
  }
}

function callsSince(stack: Stack, t0: number): TimedCall[] {
  const out: TimedCall[] = [];
  for (const c of storeOps) if (c.start >= t0) out.push({ fake: 'store', key: c.key, start: c.start - t0, ...(c.end === undefined ? {} : { end: c.end - t0 }) });
  for (const [fake, plan] of Object.entries(plans(stack))) {
    for (const c of plan.calls as CallRecord[]) {
      if (c.start < t0) continue;
      out.push({ fake, key: c.key, start: c.start - t0, ...(c.end === undefined ? {} : { end: c.end - t0 }) });
    }
  }
  return out.sort((a, b) => a.start - b.start);
}

/** performance.now() -> the monotonic clock of the profiler's timestamps (µs). */
function profilerClockUs(perfNowMs: number): number {
  const offsetMs = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  return (perfNowMs + offsetMs) * 1000;
}

/**
 * Self time of samples whose top frame is in our own sources (shared/, functions/): in the
 * whole profile, and up to `untilUs` (profiler clock) when given.
 */
export function ownCpu(profile: Profiler.Profile, untilUs = Number.POSITIVE_INFINITY): { totalMs: number; untilMs: number; top: { fn: string; ms: number }[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const perFn = new Map<string, number>();
  let totalUs = 0;
  let untilTotalUs = 0;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    const node = byId.get(samples[i] as number);
    const url = node?.callFrame.url ?? '';
    if (!OWN_CODE.some((p) => url.startsWith(p))) continue;
    // A sample stands for the time until the next one (Chrome DevTools' convention).
    const us = i + 1 < deltas.length ? (deltas[i + 1] as number) : SAMPLING_INTERVAL_US;
    totalUs += us;
    if (at <= untilUs) untilTotalUs += us;
    const fn = `${node?.callFrame.functionName || '(anonymous)'} ${url.slice(`file://${ROOT}/`.length)}:${(node?.callFrame.lineNumber ?? 0) + 1}`;
    perFn.set(fn, (perFn.get(fn) ?? 0) + us);
  }
  const top = [...perFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([fn, us]) => ({ fn, ms: us / 1000 }));
  return { totalMs: totalUs / 1000, untilMs: untilTotalUs / 1000, top };
}

let profilesWritten = 0;

async function runFinding(stack: Stack, runtime: Runtime, session?: Session): Promise<FindingRun> {
  stack.restoreCheckoutPod();
  // SCC knows it: the function confirms every finding with SCC before any cluster call.
  const event = structuredEvent(stack.known(freshFinding('bench').notification));
  if (session) {
    await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await session.post('Profiler.start');
  }
  const t0 = performance.now();
  const result = await handleMessage(event, runtime);
  const totalMs = performance.now() - t0;
  const calls = callsSince(stack, t0);
  const del = calls.find((c) => c.fake === 'kube' && c.key === `DELETE /api/v1/namespaces/${NS}/pods/${DEPLOY_POD}`);
  let cpu: ReturnType<typeof ownCpu> | undefined;
  let profileStartMs: number | undefined;
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    const out = process.env['BENCH_PROFILE_OUT'];
    if (out) {
      // For analysis: the profile (open in Chrome DevTools) and the calls on the profiler clock.
      const { writeFile } = await import('node:fs/promises');
      // One pair per profiled finding, numbered in order (cold, when profiled, before warm).
      const base = `${out}-${profilesWritten++}`;
      await writeFile(`${base}.cpuprofile`, JSON.stringify(profile));
      await writeFile(`${base}.calls.json`, JSON.stringify({ t0Us: profilerClockUs(t0), calls }));
    }
    cpu = ownCpu(profile, del ? profilerClockUs(t0 + del.start) : undefined);
    // profile.startTime comes before a long first delta; the first sample is the real start.
    profileStartMs = (profile.startTime + (profile.timeDeltas?.[0] ?? 0) - profilerClockUs(t0)) / 1000;
  }
  if (!del || result.disposition !== 'handled') {
    const refused = (result.report?.actions ?? []).flatMap((a) => a.guards.filter((g) => g.verdict === 'fail').map((g) => `${a.type}: ${g.name}: ${g.reason}`));
    throw new Error(`critical-path bench: finding not handled with a delete (${result.disposition}: ${result.message}); guards failed: ${refused.join('; ') || 'none'}; calls: ${calls.map((c) => c.key).join(', ')}`);
  }
  return {
    toDeleteReceivedMs: del.start,
    toDeleteAnsweredMs: del.end ?? Number.NaN,
    totalMs,
    disposition: result.disposition,
    calls,
    ...(cpu ? { ownCpuMs: cpu.totalMs, ownCpuToDeleteMs: cpu.untilMs, ownCpuTop: cpu.top } : {}),
    ...(profileStartMs === undefined ? {} : { profileStartMs }),
  };
}

export interface CriticalPathDetail {
  cold: FindingRun[];
  warm: FindingRun[];
  profiled: FindingRun[];
}

/** Measures `rounds` rounds of: fresh runtime -> cold finding -> warm finding -> profiled warm finding. */
export async function measureCriticalPath(rounds = 5, trace = false): Promise<CriticalPathDetail> {
  // The Google clients must never look for credentials or a metadata server.
  for (const k of ['METADATA_SERVER_DETECTION', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'] as const) process.env[k] ??= BENCH_ENV[k];
  // BENCH_CONNECT_RT=<n> (diagnostics): each new connection to the API server costs n round
  // trips (TCP + TLS 1.3 is 2), so connection reuse shows; the default adds latency per call only.
  const connectRt = Number(process.env['BENCH_CONNECT_RT'] ?? 0);
  const stack = await startStack(connectRt > 0 ? { kubeConnectLatencyMs: connectRt * INJECTED_LATENCY_MS } : {});
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  const dirs: string[] = [];
  const runtimes: Runtime[] = [];
  const sink = { write: (): void => undefined };
  const detail: CriticalPathDetail = { cold: [], warm: [], profiled: [] };
  try {
    for (const plan of Object.values(plans(stack))) plan.latencyMs = INJECTED_LATENCY_MS;
    // Round 0 is a warm-up (module loading, JIT); its numbers are discarded.
    for (let round = 0; round <= rounds; round++) {
      // A fresh evidence directory per runtime: also a fresh action budget (the rule allows
      // 5 deletions per hour, counted in the store).
      const dir = await mkdtemp(path.join(tmpdir(), 'scc-bench-critical-'));
      dirs.push(dir);
      const runtime = createRuntime({
        surface: 'function',
        env: stack.env({ SCC_RESPONDER_POLICY: POLICY, SCC_RESPONDER_EVIDENCE: dir }),
        auditDestination: sink,
      });
      runtimes.push(runtime);
      // BENCH_PROFILE_COLD=1 (diagnostics, with BENCH_PROFILE_OUT): the cold finding is profiled too.
      const cold = await runFinding(stack, runtime, process.env['BENCH_PROFILE_COLD'] === '1' ? session : undefined);
      if (trace) await traceStore(runtime);
      const warm = await runFinding(stack, runtime);
      const profiled = await runFinding(stack, runtime, session);
      if (round > 0) {
        detail.cold.push(cold);
        detail.warm.push(warm);
        detail.profiled.push(profiled);
      }
    }
  } finally {
    await session.post('Profiler.disable').catch(() => undefined);
    session.disconnect();
    await Promise.all(runtimes.map(async (r) => closeAdapters(await r.adapters().catch(() => undefined))));
    await stack.close();
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
  return detail;
}

/** Closes whatever client the adapters hold (gRPC channels keep the process alive). */
async function closeAdapters(adapters: object | undefined): Promise<void> {
  for (const a of Object.values(adapters ?? {})) {
    const close = (a as { close?: () => unknown } | undefined)?.close;
    if (typeof close === 'function') await Promise.resolve(close.call(a)).catch(() => undefined);
  }
}

const rt = (ms: number): number => ms / INJECTED_LATENCY_MS;

export function criticalPathRows(d: CriticalPathDetail): Row[] {
  const coldRt = median(d.cold.map((r) => rt(r.toDeleteReceivedMs)));
  const warmRt = median(d.warm.map((r) => rt(r.toDeleteReceivedMs)));
  const cpu = median(d.profiled.map((r) => r.ownCpuToDeleteMs ?? Number.NaN));
  const cpuWhole = median(d.profiled.map((r) => r.ownCpuMs ?? Number.NaN));
  const list = (xs: FindingRun[], f: (r: FindingRun) => number): string => xs.map((r) => f(r).toFixed(0)).join('/');
  return [
    {
      section: 'critical path', metric: 'cold: finding -> DELETE received (median)', value: coldRt, unit: 'RT', target: `<= ${COLD_TARGET_RT} RT`, pass: coldRt <= COLD_TARGET_RT,
      note: `RT = ${INJECTED_LATENCY_MS} ms injected per call; ${d.cold.length} fresh runtimes; ms ${list(d.cold, (r) => r.toDeleteReceivedMs)}; DELETE answered after ${median(d.cold.map((r) => rt(r.toDeleteAnsweredMs))).toFixed(2)} RT; handler returned after ${median(d.cold.map((r) => r.totalMs)).toFixed(0)} ms`,
    },
    {
      section: 'critical path', metric: 'warm: finding -> DELETE received (median)', value: warmRt, unit: 'RT', target: `<= ${WARM_TARGET_RT} RT`, pass: warmRt <= WARM_TARGET_RT,
      note: `${d.warm.length} second findings on the same runtime; ms ${list(d.warm, (r) => r.toDeleteReceivedMs)}; DELETE answered after ${median(d.warm.map((r) => rt(r.toDeleteAnsweredMs))).toFixed(2)} RT; handler returned after ${median(d.warm.map((r) => r.totalMs)).toFixed(0)} ms`,
    },
    {
      section: 'critical path', metric: 'warm: own CPU, finding -> DELETE (median)', value: cpu, unit: 'ms', target: `< ${OWN_CPU_TARGET_MS} ms`, pass: cpu < OWN_CPU_TARGET_MS,
      note: `self time of shared/ + functions/ frames (fakes and node_modules excluded), ${SAMPLING_INTERVAL_US} µs sampling, a third finding per runtime; runs ${d.profiled.map((r) => (r.ownCpuToDeleteMs ?? 0).toFixed(1)).join('/')} ms`,
    },
    {
      section: 'critical path', metric: 'warm: own CPU, whole handler (median)', value: cpuWhole, unit: 'ms',
      note: `the same profiles up to handleMessage's return (enrichment, replacement watch, report, marks, publish); runs ${d.profiled.map((r) => (r.ownCpuMs ?? 0).toFixed(1)).join('/')} ms`,
    },
  ];
}

export async function runCriticalPathBench(rounds = 5): Promise<Row[]> {
  return criticalPathRows(await measureCriticalPath(rounds));
}

function timeline(r: FindingRun): string {
  return r.calls.map((c) => `  ${c.start.toFixed(1).padStart(7)} -> ${(c.end?.toFixed(1) ?? '?').padStart(7)} ms  ${c.fake.padEnd(7)} ${c.key}`).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const d = await measureCriticalPath(Number(process.env['BENCH_ROUNDS'] ?? 5), process.argv.includes('--verbose'));
  console.log(formatTable(criticalPathRows(d)));
  if (process.argv.includes('--verbose')) {
    console.log(`\ncold finding (first round), calls relative to the finding:\n${timeline(d.cold[0] as FindingRun)}`);
    console.log(`\nwarm finding (first round):\n${timeline(d.warm[0] as FindingRun)}`);
    const p = d.profiled[0] as FindingRun;
    console.log(`\nown CPU, profiled warm finding (first round): ${p.ownCpuToDeleteMs?.toFixed(1)} ms to the DELETE, ${p.ownCpuMs?.toFixed(1)} ms in all (profile started at ${p.profileStartMs?.toFixed(2)} ms); top:\n${(p.ownCpuTop ?? []).map((t) => `  ${t.ms.toFixed(2).padStart(6)} ms  ${t.fn}`).join('\n')}`);
  }
}
