// Cold path: what users actually get. Findings of this kind are rare, so the function scales
// to zero between them and almost every real finding lands on a new instance. Each round
// starts a FRESH Functions Framework process running the deployable bundle (dist/bundle),
// waits until it listens (no event posted: nothing is loaded ahead), posts the matching
// finding first, and measures post -> the DELETE of the pod received by the fake API server;
// then a second finding on the same, now warm, process. Every call of every fake (in this
// process) carries 25 ms of latency; enforce policy, local evidence directory. The one-time
// loading cost is the function process's CPU to the cold DELETE minus its CPU to the warm one.
//
// Run: `npm run build && npx tsx bench/cold-path.ts` (or through bench/run.ts).
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freshFinding, structuredEvent } from '../test/support/cloudevents.js';
import type { FaultPlan } from '../test/support/faults.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { formatTable, median, procCpuSeconds, ROOT, sleep, startFunction, type Row, type StartedFunction } from './lib.js';

export const COLD_ROUNDS = Number(process.env['BENCH_COLD_ROUNDS'] ?? 5);
export const LATENCY_MS = 25;
export const COLD_TARGET_MS = 1_500;
export const COLD_OVER_WARM_TARGET_MS = 800;
export const LOADING_CPU_TARGET_MS = 600;
const POLICY = path.join(ROOT, 'policies/enforce-delete-for-deployments.yaml');



async function listening(port: number, deadlineMs = 60_000): Promise<void> {
  const until = performance.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (performance.now() > until) throw new Error(`function did not listen within ${deadlineMs} ms`);
    await sleep(5);
  }
}

interface Finding {
  toDeleteMs: number;
  totalMs: number;
  cpuToDeleteS: number;
}

/** Posts one finding; returns post -> DELETE received, post -> answered, and the function's CPU at the DELETE. */
async function oneFinding(stack: Stack, fn: StartedFunction): Promise<Finding> {
  stack.restoreCheckoutPod();
  const kube: FaultPlan = stack.world.kube.faults;
  const cpuBefore = procCpuSeconds(fn.child.pid ?? 0);
  const t0 = performance.now();
  let cpuAtDelete = Number.NaN;
  const watch = setInterval(() => {
    if (Number.isNaN(cpuAtDelete) && kube.calls.some((c) => c.start >= t0 && c.key.startsWith('DELETE '))) cpuAtDelete = procCpuSeconds(fn.child.pid ?? 0);
  }, 2);
  try {
    const res = await fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(structuredEvent(stack.known(freshFinding('cold').notification))) });
    await res.arrayBuffer();
    if (res.status !== 204) throw new Error(`the finding was answered ${res.status}`);
    const totalMs = performance.now() - t0;
    const del = kube.calls.find((c) => c.start >= t0 && c.key.startsWith('DELETE '));
    if (!del) throw new Error('no DELETE reached the fake API server');
    return { toDeleteMs: del.start - t0, totalMs, cpuToDeleteS: cpuAtDelete - cpuBefore };
  } finally {
    clearInterval(watch);
  }
}

export async function runColdPathBench(): Promise<Row[]> {
  const stack = await startStack();
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-cold-'));
  for (const f of [stack.world.gke.faults, stack.world.kube.faults, stack.world.logging.faults, stack.scc.faults, stack.pubsub.faults, stack.gcs.faults]) f.latencyMs = LATENCY_MS;
  const cold: Finding[] = [];
  const warm: Finding[] = [];
  try {
    for (let round = 0; round < COLD_ROUNDS; round++) {
      const env = stack.env({ SCC_RESPONDER_POLICY: POLICY, SCC_RESPONDER_EVIDENCE: path.join(dir, `r${round}`), LOG_LEVEL: 'info' });
      // BENCH_CPU_PROF=<dir>: diagnostics, a CPU profile of each function process, written on exit.
      const prof = process.env['BENCH_CPU_PROF'];
      const fn = await startFunction('sccResponder', ROOT, prof ? { ...env, NODE_OPTIONS: `--cpu-prof --cpu-prof-interval=500 --cpu-prof-dir=${prof}` } : env);
      let out = '';
      fn.child.stdout?.on('data', (d: Buffer) => {
        if (out.length < 20_000) out += d.toString();
      });
      try {
        await listening(fn.port);
        cold.push(await oneFinding(stack, fn));
        warm.push(await oneFinding(stack, fn));
      } catch (err) {
        await sleep(1_000); // the function's last lines are still in the pipe
        throw new Error(`${err instanceof Error ? err.message : String(err)}; function output: ${out.slice(-6000)}`, { cause: err });
      } finally {
        await fn.stop();
      }
    }
  } finally {
    await stack.close();
    await rm(dir, { recursive: true, force: true });
  }
  const coldMs = cold.map((c) => c.toDeleteMs);
  const warmMs = warm.map((c) => c.toDeleteMs);
  const loadingMs = cold.map((c, i) => (c.cpuToDeleteS - (warm[i]?.cpuToDeleteS ?? 0)) * 1000);
  const rt = (ms: number): string => `${(ms / LATENCY_MS).toFixed(1)} RT`;
  const coldMedian = median(coldMs);
  const warmMedian = median(warmMs);
  return [
    {
      section: 'cold path', metric: 'cold: first finding -> DELETE received, fresh process (median)', value: coldMedian, unit: 'ms',
      baseline: warmMedian, ratio: coldMedian / warmMedian, target: `<= ${COLD_TARGET_MS} ms`, pass: coldMedian <= COLD_TARGET_MS,
      note: `${COLD_ROUNDS} fresh dist/bundle processes, ${LATENCY_MS} ms per call; cold ${coldMs.map((m) => m.toFixed(0)).join(' / ')} ms (${coldMs.map(rt).join(', ')}), worst ${Math.max(...coldMs).toFixed(0)} ms; baseline = the warm row; answered after ${cold.map((c) => c.totalMs.toFixed(0)).join(' / ')} ms`,
    },
    {
      section: 'cold path', metric: 'warm: second finding -> DELETE received, same process (median)', value: warmMedian, unit: 'ms',
      note: `${warmMs.map((m) => m.toFixed(0)).join(' / ')} ms (${warmMs.map(rt).join(', ')})`,
    },
    {
      section: 'cold path', metric: 'what cold adds over warm (median of pairs)', value: median(cold.map((c, i) => c.toDeleteMs - (warm[i]?.toDeleteMs ?? 0))), unit: 'ms',
      target: `<= ${COLD_OVER_WARM_TARGET_MS} ms`, pass: median(cold.map((c, i) => c.toDeleteMs - (warm[i]?.toDeleteMs ?? 0))) <= COLD_OVER_WARM_TARGET_MS,
    },
    {
      section: 'cold path', metric: 'one-time loading on the path to the DELETE (CPU, median)', value: median(loadingMs), unit: 'ms',
      target: `<= ${LOADING_CPU_TARGET_MS} ms`, pass: median(loadingMs) <= LOADING_CPU_TARGET_MS,
      note: `function process CPU to the cold DELETE minus to the warm one (10 ms ticks): ${loadingMs.map((m) => m.toFixed(0)).join(' / ')} ms`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatTable(await runColdPathBench()));
  process.exit(0);
}
