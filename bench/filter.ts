// Filter throughput: how many messages per second one process can classify through the
// pure front half of handleMessage (decode -> decide). The common case in production is a
// notification whose category the policy does not cover (SCC sends every category the
// notification config's filter lets through, and our own mark updates come back to us):
// that path must stay cheap. It is measured through screenMessage() (decode the envelope,
// parse the notification, check the category, no full validation), with the unscreened
// decideMessage() (full validation + Incident + decide) as the baseline. Matching-category
// throughput (decode + toIncident + decide) is reported for information; a matching
// message then does network I/O that dwarfs it.
//
// Input is the parsed CloudEvent object, which is what the Functions Framework hands to
// the handler. Each measurement: warm up, then time a fixed number of messages several
// times and report the median (machines here are shared and noisy).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRuntime } from '../functions/composition/runtime.js';
import { decideMessage, screenMessage } from '../shared/policy/decide-message.js';
import { handleMessage } from '../shared/respond/handle.js';
import { defaultPolicy } from '../shared/policy/default-policy.js';
import { median, ROOT, type Row } from './lib.js';

export const FILTER_TARGET_MSGS_PER_S = 20_000;

export interface FilterBenchOptions {
  /** Messages per timed run of the non-matching path (default 50,000). */
  messages?: number;
  /** Timed runs per measurement; the median is reported (default 5). */
  runs?: number;
}

function fixtureObject(name: string): unknown {
  return JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures', name), 'utf8')) as unknown;
}

/** throughput() for an async handler, awaited one message at a time (as one instance's event loop sees them). */
async function throughputAsync(fn: () => Promise<void>, count: number, runs: number): Promise<{ median: number; all: number[] }> {
  const warm = Math.min(count, 5_000);
  for (let i = 0; i < warm; i++) await fn();
  const all: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) await fn();
    const ns = Number(process.hrtime.bigint() - start);
    all.push(count / (ns / 1e9));
  }
  return { median: median(all), all };
}

/** Messages per second for `count` calls of `fn`, the median over `runs` timed runs after a warm-up. */
function throughput(fn: () => void, count: number, runs: number): { median: number; all: number[] } {
  const warm = Math.min(count, 5_000);
  for (let i = 0; i < warm; i++) fn();
  const all: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) fn();
    const ns = Number(process.hrtime.bigint() - start);
    all.push(count / (ns / 1e9));
  }
  return { median: median(all), all };
}

function fmtRuns(all: readonly number[]): string {
  return all.map((x) => Math.round(x).toLocaleString('en-US')).join(' / ');
}

export async function runFilterBench(options: FilterBenchOptions = {}): Promise<Row[]> {
  const messages = options.messages ?? 50_000;
  const runs = options.runs ?? 5;
  const policy = defaultPolicy();
  const nonMatching = fixtureObject('cloudevent.added-binary-executed.v1.json');
  const matching = fixtureObject('cloudevent.modified-malicious-binary.v1.json');

  // Guard the benchmark itself: measure the paths we claim to measure.
  const probeScreened = screenMessage(nonMatching, policy);
  if (probeScreened.stage !== 'screen' || probeScreened.decision.code !== 'category-not-covered') {
    throw new Error(`filter bench: the non-matching fixture was not screened out (stage ${probeScreened.stage})`);
  }
  const probeFull = decideMessage(nonMatching, policy);
  if (probeFull.stage !== 'decide' || probeFull.decision.matched || probeFull.decision.reason !== probeScreened.decision.reason) {
    throw new Error(`filter bench: the full path did not give the screened path's decision (stage ${probeFull.stage})`);
  }
  const probeMatched = decideMessage(matching, policy);
  if (probeMatched.stage !== 'decide' || !probeMatched.decision.matched) {
    throw new Error(`filter bench: the matching fixture did not produce a plan (stage ${probeMatched.stage})`);
  }

  let sink = 0;
  const screened = throughput(() => {
    if (screenMessage(nonMatching, policy).stage === 'screen') sink++;
  }, messages, runs);
  // The slower paths get fewer messages per run so the whole bench stays short.
  const slowCount = Math.max(1_000, Math.floor(messages / 5));
  const full = throughput(() => {
    if (decideMessage(nonMatching, policy).stage === 'decide') sink++;
  }, slowCount, runs);
  const matched = throughput(() => {
    const r = decideMessage(matching, policy);
    if (r.stage === 'decide' && r.decision.matched) sink++;
  }, slowCount, runs);
  // The whole handler as deployed (default log level: one INFO audit line per ignored
  // message, written to a sink that drops it), for information.
  const runtime = createRuntime({ surface: 'function', adapters: {}, auditDestination: { write: () => undefined }, env: { LOG_LEVEL: 'info' } });
  const probeHandled = await handleMessage(nonMatching, runtime);
  if (probeHandled.disposition !== 'ignored') throw new Error(`filter bench: handleMessage gave ${probeHandled.disposition} for the non-matching fixture`);
  const handled = await throughputAsync(async () => {
    if ((await handleMessage(nonMatching, runtime)).disposition === 'ignored') sink++;
  }, slowCount, runs);
  if (sink === 0) throw new Error('filter bench: nothing was classified');
  const matchCount = slowCount;

  return [
    {
      section: 'filter',
      metric: 'non-matching msgs/s (decode + decide, median)',
      value: screened.median,
      unit: 'msg/s',
      baseline: full.median,
      ratio: screened.median / full.median,
      target: `>= ${FILTER_TARGET_MSGS_PER_S.toLocaleString('en-US')} msgs/s`,
      pass: screened.median >= FILTER_TARGET_MSGS_PER_S,
      note:
        `screenMessage(), ${runs} runs x ${messages.toLocaleString('en-US')} structured CloudEvents (Added Binary Executed, default policy): ` +
        `${fmtRuns(screened.all)} msg/s, ${(1e6 / screened.median).toFixed(1)} us/msg; baseline = decideMessage() without the screen ` +
        `(full validation + Incident), ${runs} x ${slowCount.toLocaleString('en-US')}: ${fmtRuns(full.all)} msg/s`,
    },
    {
      section: 'filter',
      metric: 'non-matching msgs/s through handleMessage (INFO audit line, median)',
      value: handled.median,
      unit: 'msg/s',
      note: `for information: the whole handler at the default log level, audit lines to a null sink; ${runs} runs x ${slowCount.toLocaleString('en-US')}: ${fmtRuns(handled.all)} msg/s; ${(1e6 / handled.median).toFixed(1)} us/msg`,
    },
    {
      section: 'filter',
      metric: 'matching msgs/s (decode + toIncident + decide, median)',
      value: matched.median,
      unit: 'msg/s',
      note: `for information; ${runs} runs x ${matchCount.toLocaleString('en-US')} (Modified Malicious Binary, dry-run plan): ${fmtRuns(matched.all)} msg/s; ${(1e6 / matched.median).toFixed(1)} us/msg`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { formatTable } = await import('./lib.js');
  console.log(formatTable(await runFilterBench()));
}
