// Diagnostics (not part of `npm run bench`): the function's CPU per matching finding, warm,
// for one or more built trees, alternated round by round so that they share the machine's
// conditions. Much lighter than the burst (one function at a time, concurrency 4 as deployed,
// default dry-run policy, the evidence store in the fake bucket), and far less noisy for an
// A/B of a CPU change on a busy machine than the burst's CPU row.
//
// Run: `npm run build && npx tsx bench/cpu-per-finding.ts [TREE[::NODE_FLAGS] ...]`
// TREE is a source directory with a built dist/bundle (default: this checkout), e.g. a
// `git worktree` of the commit before a change; `::--max-semi-space-size=32` adds Node flags.
// BENCH_CPU_N (findings measured per round, default 40), BENCH_CPU_ROUNDS (default 5).
import { fixture, structuredEvent } from '../test/support/cloudevents.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { BENCH_ENV, firstAck, procCpuSeconds, ROOT, startFunction, type StartedFunction } from './lib.js';

const CONCURRENCY = 4;
const WARM_UP = 4;
let seq = 0;

function matchingBody(stack: Stack): string {
  const n = structuredClone(fixture('modified-malicious-binary.v1.json')) as { finding: { name: string; canonicalName?: string; eventTime: string } };
  const id = `cpu${(seq++).toString().padStart(5, '0')}${Math.random().toString(16).slice(2, 10)}`;
  n.finding.eventTime = new Date().toISOString();
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  if (n.finding.canonicalName) n.finding.canonicalName = n.finding.canonicalName.replace(/[^/]+$/, id);
  stack.known(n);
  return JSON.stringify(structuredEvent(n, `ce-${id}`));
}

async function post(fn: StartedFunction, body: string): Promise<void> {
  const res = await fetch(fn.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (res.status !== 204) throw new Error(`cpu-per-finding: HTTP ${res.status} ${text.slice(0, 200)}`);
}

/** CPU ms per matching finding of one fresh function process from `tree`, after a warm-up. */
async function measure(variant: string, count: number): Promise<number> {
  const [tree = ROOT, flags = ''] = variant.split('::');
  const stack = await startStack();
  const fn = await startFunction('sccResponder', tree, { ...stack.env({}), NODE_OPTIONS: `--no-warnings ${flags}`.trim() });
  try {
    const ready = await firstAck(fn, JSON.stringify(structuredEvent(fixture('added-binary-executed.v1.json'), 'ce-first')));
    if (ready.status !== 204) throw new Error(`cpu-per-finding: first ack ${ready.status}`);
    for (let i = 0; i < WARM_UP; i++) await post(fn, matchingBody(stack)); // chunks loaded, clients built
    const bodies = Array.from({ length: count }, () => matchingBody(stack));
    const pid = fn.child.pid as number;
    const before = procCpuSeconds(pid);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < bodies.length; i = next++) await post(fn, bodies[i] as string);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return ((procCpuSeconds(pid) - before) * 1000) / count;
  } finally {
    await fn.stop();
    await stack.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const k of ['METADATA_SERVER_DETECTION', 'GOOGLE_APPLICATION_CREDENTIALS', 'GOOGLE_CLOUD_PROJECT'] as const) process.env[k] ??= BENCH_ENV[k];
  const variants = process.argv.length > 2 ? process.argv.slice(2) : [ROOT];
  const count = Number(process.env['BENCH_CPU_N'] ?? 40);
  const rounds = Number(process.env['BENCH_CPU_ROUNDS'] ?? 5);
  const results = new Map<string, number[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < rounds; round++) {
    for (const v of variants) {
      const ms = await measure(v, count);
      results.get(v)?.push(ms);
      console.log(`round ${round + 1}/${rounds} ${v}: ${ms.toFixed(1)} ms CPU per matching finding`);
    }
  }
  for (const [v, all] of results) {
    const sorted = [...all].sort((a, b) => a - b);
    console.log(`${v}: median ${(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN).toFixed(1)} ms, min ${(sorted[0] ?? Number.NaN).toFixed(1)} ms (${all.map((x) => x.toFixed(1)).join(', ')})`);
  }
  process.exit(0);
}
