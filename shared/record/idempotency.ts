// Loop and duplicate safety: one finding, one set of effects, however often it arrives.
// Pub/Sub delivers at least once, SCC re-notifies on every finding update (our own mark
// write included), and several function instances may receive copies at the same time.
//
// Modelled on Powertools for AWS Lambda's idempotency utility: a record per key with a
// status (in progress, completed, expired) and an expiry, so a crashed invocation does not
// block its retry forever. Three layers, cheapest first:
//
//   1. shouldSkip(finding): the notification already carries our "handled" marks (the echo
//      of our own mark write). Pure; no I/O.
//   2. In-process single flight keyed by finding name: concurrent duplicate deliveries inside
//      one instance share one execution (and its result or its error).
//   3. Across instances, records in the EvidenceStore, whose only write is create-only
//      (keys and metadata: shared/ledger/layout.ts LEDGER_TABLE):
//        <folder>/report.json           completed record (the report object): ack, do nothing
//        <folder>/claim-<n>.json        in-progress claim of generation n: run id + expiry
//        <folder>/claim-<n>.released.json  its holder gave it up (transient failure)
//      Objects cannot change, so a status never flips in place: each state is a new object.
//
// Why generations are race-free with create-only writes: claiming generation n means
// creating claim-<n>.json, and the store lets exactly one creator succeed. A claimer that
// finds claim-<n> live (not expired, not released) stops with "in progress"; one that finds
// it expired, released or unreadable moves on to n+1, where again only one creator wins.
// So at any moment at most one run holds the newest generation. The one window left is a
// holder that outlives its expiry (the TTL must exceed the function timeout: default 15
// min vs a 9 min maximum) and a taker that re-runs; the taker re-checks report.json right
// after claiming, and every step is itself idempotent (create-only evidence, delete with a
// UID precondition treating 404 as done, marks set-to-value), so even then effects do not
// double.
//
// A run that took no effect (dry-run, no marks, nothing published) does not complete the
// finding: its report is stored as `<folder>/report-<n>.json|md` (n = its claim generation)
// and its claim is released with status `finished`, so the next delivery or CLI run reads
// everything again. Finished generations do not count towards the takeover limit, which is
// there to stop a run that crashes every time. A forced re-run (CLI `--rerun`) ignores
// report.json, skips the completed run's claim, and also stores its report as report-<n>.
//
// An unreadable claim (object present, contents not JSON, no claim metadata) counts as
// expired: it can only come from a writer that crashed mid-write (the local store's loser
// already waited for the winner's sidecar), and treating it as live would block forever.
import type { EvidenceStore, StoredObject } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { keysIn, META as LEDGER_META } from '../ledger/layout.js';
import { putJson, readJson, readRecord, type PutResult } from '../ledger/json.js';
import { isHandled, MARK_KEYS } from './marks.js';
import { readReport, storeReport, type StoredReport, type StoreReportInput } from './report-object.js';

export const DEFAULT_CLAIM_TTL_MS = 15 * 60 * 1000;
export const DEFAULT_MAX_GENERATIONS = 16;

export interface ClaimRecord {
  status: 'in-progress';
  findingName: string;
  runId: string;
  generation: number;
  claimedAt: string;
  expiresAt: string;
}

export interface Claim {
  folder: string;
  key: string;
  generation: number;
  record: ClaimRecord;
  /** A forced re-run: report.json may exist already; this run's report goes beside it. */
  forced?: boolean;
  /**
   * This run created claim-0: no run ever claimed the folder before, so no earlier attempt
   * can have stored evidence, effect records or report.json under it (all are written by, or
   * after, a claim). Readers use it to skip looking for them. Never set on a forced re-run
   * that found report.json (its claim-0 was deleted by the lifecycle, not never written).
   */
  first?: true;
  /** The claim of the generation we took over (expired, released or unreadable), if any. */
  tookOver?: { generation: number; why: 'expired' | 'released' | 'unreadable'; holder: ClaimRecord | null };
}

export type ClaimResult =
  | { status: 'acquired'; claim: Claim }
  /** report.json exists: the finding was handled; ack without acting. */
  | { status: 'completed'; report: unknown }
  /** Another run holds a live claim: throw a transient error so Pub/Sub redelivers later. */
  | { status: 'in-progress'; holder: ClaimRecord };

export interface ClaimOptions {
  findingName: string;
  /** Key prefix of this finding's objects (the evidence directory for the finding). */
  folder: string;
  runId: string;
  ttlMs?: number;
  now?: () => number;
  maxGenerations?: number;
  /** Re-run even though report.json exists (its effects are not repeated: every step is idempotent). */
  force?: boolean;
}

const META = {
  status: LEDGER_META.claimStatus,
  run: LEDGER_META.claimRun,
  generation: LEDGER_META.claimGeneration,
  claimedAt: LEDGER_META.claimedAt,
  expiresAt: LEDGER_META.claimExpires,
  finding: LEDGER_META.finding,
} as const;

/** Release status of a claim whose run finished without completing the finding (see above). */
const FINISHED = 'finished';

function isClaimRecord(v: unknown): v is ClaimRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return r['status'] === 'in-progress' && typeof r['runId'] === 'string' && typeof r['generation'] === 'number' && typeof r['expiresAt'] === 'string' && !Number.isNaN(Date.parse(r['expiresAt']));
}

function claimFromMetadata(object: StoredObject): ClaimRecord | null {
  const m = object.metadata;
  const candidate = {
    status: m[META.status],
    findingName: m[META.finding] ?? '',
    runId: m[META.run],
    generation: m[META.generation] === undefined ? undefined : Number(m[META.generation]),
    claimedAt: m[META.claimedAt] ?? '',
    expiresAt: m[META.expiresAt],
  };
  return isClaimRecord(candidate) ? candidate : null;
}

async function readClaim(store: EvidenceStore, object: StoredObject, signal?: AbortSignal): Promise<ClaimRecord | null> {
  return claimFromMetadata(object) ?? readRecord(store, object.key, isClaimRecord, signal);
}

/** Creates claim-<generation>.json for this run (create-only: exactly one creator wins). */
function createClaim(store: EvidenceStore, options: ClaimOptions, generation: number, signal?: AbortSignal): Promise<PutResult & { record: ClaimRecord; key: string }> {
  const t = (options.now ?? Date.now)();
  const record: ClaimRecord = {
    status: 'in-progress',
    findingName: options.findingName,
    runId: options.runId,
    generation,
    claimedAt: new Date(t).toISOString(),
    expiresAt: new Date(t + (options.ttlMs ?? DEFAULT_CLAIM_TTL_MS)).toISOString(),
  };
  const key = keysIn(options.folder).claim(generation);
  const metadata: Record<string, string> = {
    [META.status]: record.status,
    [META.finding]: record.findingName,
    [META.run]: record.runId,
    [META.generation]: String(generation),
    [META.claimedAt]: record.claimedAt,
    [META.expiresAt]: record.expiresAt,
  };
  return putJson(store, key, 'claim', record, metadata, signal ? { signal } : {}).then((r) => ({ ...r, record, key }));
}

/**
 * Claims a finding for this run, or says why not. Tries claim-0 first: creating it proves no
 * run ever claimed this folder, and only a claim holder writes report.json, so a first
 * delivery (the common case) needs no report read at all and is marked `first`. Otherwise
 * (or when forced) reads report.json (completed: nothing to do), then walks the claim
 * generations as described at the top of this file.
 */
export async function claimFinding(store: EvidenceStore, options: ClaimOptions, signal?: AbortSignal): Promise<ClaimResult> {
  const now = options.now ?? Date.now;
  const max = options.maxGenerations ?? DEFAULT_MAX_GENERATIONS;
  const zero = options.force ? undefined : await createClaim(store, options, 0, signal);
  if (zero?.created) return { status: 'acquired', claim: { folder: options.folder, key: zero.key, generation: 0, record: zero.record, first: true } };
  const done = await readReport(store, options.folder, signal);
  if (done !== null && !options.force) return { status: 'completed', report: done };
  // Forced: the run that wrote report.json (its object metadata) never released its claim.
  const completedBy = done === null ? undefined : (await store.stat(keysIn(options.folder).reportJson, signal))?.metadata[LEDGER_META.run];

  let tookOver: Claim['tookOver'];
  let takeovers = 0;
  for (let generation = 0; takeovers < max; generation += 1) {
    const result = generation === 0 && zero ? zero : await createClaim(store, options, generation, signal);
    const { key, record } = result;
    const forced = options.force ? { forced: true } : {};
    if (result.created) {
      // A holder that outlived its expiry may have completed while we were taking over. Not
      // at generation 0: creating claim-0 proves no run ever claimed this folder, and only a
      // claim holder writes report.json, which was absent when read above.
      const late = options.force || generation === 0 ? null : await readReport(store, options.folder, signal);
      if (late !== null) return { status: 'completed', report: late };
      // Forced past a report.json that is there without claim-0 (the lifecycle deleted the
      // claims first, seconds earlier by age): an earlier run did act, so this one is not first.
      const first = generation === 0 && done === null ? { first: true as const } : {};
      return { status: 'acquired', claim: { folder: options.folder, key, generation, record, ...forced, ...first, ...(tookOver ? { tookOver } : {}) } };
    }
    const holder = await readClaim(store, result.object, signal);
    if (holder === null) {
      tookOver = { generation, why: 'unreadable', holder: null };
      takeovers += 1;
      continue;
    }
    if (holder.runId === options.runId) {
      // Re-entrant: this very run claimed it already (e.g. a step retried the claim).
      return { status: 'acquired', claim: { folder: options.folder, key, generation, record: holder, ...forced } };
    }
    // The run that wrote report.json keeps its claim (a completion is never released).
    if (completedBy === holder.runId) continue;
    const released = await store.stat(keysIn(options.folder).release(generation), signal);
    if (released !== null) {
      if (released.metadata[META.status] === FINISHED) continue;
      tookOver = { generation, why: 'released', holder };
      takeovers += 1;
      continue;
    }
    if (Date.parse(holder.expiresAt) <= now()) {
      tookOver = { generation, why: 'expired', holder };
      takeovers += 1;
      continue;
    }
    return { status: 'in-progress', holder };
  }
  throw new ResponderError(
    `finding ${options.findingName}: ${max} claim generations under ${options.folder} are all expired or released; refusing to take over again (look for a run that crashes every time)`,
    'permanent',
    { code: 'CLAIM_GENERATIONS_EXHAUSTED' },
  );
}

/**
 * Gives a claim up (a transient failure: the message will be redelivered) so the retry can
 * take over at once instead of waiting for the expiry. Create-only, written only by the holder.
 */
export async function releaseClaim(store: EvidenceStore, claim: Claim, reason: string, signal?: AbortSignal, status: 'released' | typeof FINISHED = 'released'): Promise<void> {
  const body = { status, findingName: claim.record.findingName, runId: claim.record.runId, generation: claim.generation, releasedAt: new Date().toISOString(), reason };
  const fields = { [META.status]: status, [META.run]: claim.record.runId, [META.generation]: String(claim.generation) };
  await putJson(store, keysIn(claim.folder).release(claim.generation), 'claim-release', body, fields, signal ? { signal } : {});
}

/** Writes the completed record: the report object (markdown then JSON), create-only. */
export function completeFinding<R>(store: EvidenceStore, claim: Claim, input: Omit<StoreReportInput<R>, 'folder' | 'findingName' | 'runId'>, signal?: AbortSignal): Promise<StoredReport> {
  return storeReport(store, { ...input, folder: claim.folder, findingName: claim.record.findingName, runId: claim.record.runId }, signal);
}

/**
 * A run that does not complete the finding (no effects, or a forced re-run after completion):
 * its report goes to report-<generation>.json|md and the claim is released as finished, so the
 * next run is not blocked.
 */
export async function keepRunReport<R>(store: EvidenceStore, claim: Claim, input: Omit<StoreReportInput<R>, 'folder' | 'findingName' | 'runId'>, reason: string, signal?: AbortSignal): Promise<StoredReport> {
  const stored = await storeReport(store, { ...input, folder: claim.folder, findingName: claim.record.findingName, runId: claim.record.runId, keys: keysIn(claim.folder).runReport(claim.generation) }, signal);
  await releaseClaim(store, claim, reason, signal, FINISHED);
  return stored;
}

/**
 * The newest stored report of a finding (report.json or a run's report-<n>.json, newest
 * `completedAt` first) and where it is, or null when none is stored. For the CLI's --show-stored.
 */
export async function readLatestReport(store: EvidenceStore, folder: string, signal?: AbortSignal): Promise<{ report: Record<string, unknown>; uri: string } | null> {
  const base = `${keysIn(folder).folder}/report`;
  const keys = (await store.list(base, signal)).filter((k) => /\/report(?:-\d+)?\.json$/.test(k));
  // Newest completedAt first; two runs in the same millisecond are told apart by generation
  // (report-<n> of a later claim is newer; report.json, the completion record, counts as -1).
  let best: { report: Record<string, unknown>; key: string; at: string; generation: number } | null = null;
  for (const key of keys) {
    const read = await readJson(store, key, signal);
    // Absent, or cut short by a crash: not a report.
    if (read.state !== 'ok' || typeof read.value !== 'object' || read.value === null) continue;
    const report = read.value as Record<string, unknown>;
    const at = typeof report['completedAt'] === 'string' ? report['completedAt'] : '';
    const generation = Number(/\/report-(\d+)\.json$/.exec(key)?.[1] ?? -1);
    if (best === null || at > best.at || (at === best.at && generation > best.generation)) best = { report, key, at, generation };
  }
  if (best === null) return null;
  const object = await store.stat(best.key, signal);
  return { report: best.report, uri: object?.uri ?? `${store.location}/${best.key}` };
}

/** Pure: the finding already carries our "handled" marks (SCC's echo of our own mark write). */
export function shouldSkip(finding: { securityMarks?: Record<string, string> | null }): { skip: true; reason: string } | { skip: false } {
  const marks = finding.securityMarks ?? {};
  if (!isHandled(marks)) return { skip: false };
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(marks)) lower[k.toLowerCase()] = v;
  const parts = [`state=${lower[MARK_KEYS.state] ?? '?'}`, `action=${lower[MARK_KEYS.action] ?? '?'}`];
  if (lower[MARK_KEYS.run]) parts.push(`run=${lower[MARK_KEYS.run]}`);
  return { skip: true, reason: `finding already handled by this responder (${parts.join(', ')}): acknowledged without acting` };
}

// ---------------------------------------------------------------- the whole protocol

/** What the caller does with its result: store it as the completed record, or give the claim up. */
export type Finish =
  | { complete: Omit<StoreReportInput, 'folder' | 'findingName' | 'runId'> }
  /** The run took no effect: store its report without completing the finding (the next run re-reads). */
  | { keep: Omit<StoreReportInput, 'folder' | 'findingName' | 'runId'>; reason: string }
  | { release: string };

export type IdempotentResult<T> =
  /** This run (or, with `shared`, a concurrent duplicate in this instance) executed the work. */
  | { status: 'executed'; value: T; shared: boolean; claim: Claim | null; stored: StoredReport | null; released: boolean }
  | { status: 'already-completed'; report: unknown; shared: boolean }
  | { status: 'in-progress'; holder: ClaimRecord; shared: boolean };

export interface RunInput {
  findingName: string;
  folder: string;
  runId: string;
  /** Re-run even though the finding was completed (CLI --rerun). */
  force?: boolean;
}

export interface Idempotency {
  /**
   * Runs `work` at most once per finding across duplicates: single flight in this instance,
   * a claim in the store across instances. `finish` turns the work's value into the completed
   * record or a release. If `work` throws, the claim is released and the error rethrown.
   * Without a store only the single flight applies (and nothing is stored).
   */
  run<T>(input: RunInput, work: (claim: Claim | null) => Promise<T>, finish: (value: T) => Finish, signal?: AbortSignal): Promise<IdempotentResult<T>>;
  /**
   * run() with the claim taken concurrently with the work instead of before it: the work may
   * read (and write create-only objects) at once, and calls `admit()` before its first effect;
   * admit() waits for the claim and throws NotAdmitted when another delivery completed or
   * holds the finding, which ends the run as `already-completed` / `in-progress`. This keeps
   * the claim's store round trips off the response's critical path.
   */
  runConcurrently<T>(input: RunInput, work: (admit: () => Promise<void>, claim: ClaimView) => Promise<T>, finish: (value: T) => Finish, signal?: AbortSignal): Promise<IdempotentResult<T>>;
  /** Findings currently executing in this instance. */
  inFlight(): string[];
}

export interface IdempotencyOptions {
  store?: EvidenceStore;
  ttlMs?: number;
  now?: () => number;
  maxGenerations?: number;
}

/**
 * What the work may learn about its claim without waiting for admit(): whether this delivery
 * is the finding's first (it created claim-0, Claim.first), so that reads looking for an
 * earlier attempt's records can be skipped. Never throws, never rejects: any claim failure
 * reads as "not first" (look as before).
 */
export interface ClaimView {
  /** true when the claim is decided and first; false when decided otherwise; undefined while pending. */
  firstNow(): boolean | undefined;
  /** Resolves once the claim is decided: true iff first. */
  first: Promise<boolean>;
}

/** The view of a claim already decided (run(), which claims before the work). */
export function decidedClaimView(claim: Claim | null): ClaimView {
  const first = claim?.first === true;
  return { firstNow: () => first, first: Promise.resolve(first) };
}

function pendingClaimView(claimed: Promise<ClaimResult>): ClaimView {
  let known: boolean | undefined;
  const first = claimed.then(
    (c) => (known = c.status === 'acquired' && c.claim.first === true),
    () => (known = false),
  );
  return { firstNow: () => known, first };
}

/** Thrown by runConcurrently's admit() when this run may not take effects. */
export class NotAdmitted extends Error {
  constructor(readonly result: Exclude<ClaimResult, { status: 'acquired' }>) {
    super(result.status === 'completed' ? 'finding already handled (report object exists)' : `finding held by run ${result.holder.runId}`);
    this.name = 'NotAdmitted';
  }
}

/** The error to throw for `in-progress`: transient, so Pub/Sub redelivers after the holder finished. */
export function inProgressError(findingName: string, holder: ClaimRecord): ResponderError {
  return new ResponderError(`finding ${findingName} is being handled by run ${holder.runId} (claim generation ${holder.generation}, expires ${holder.expiresAt}); retry later`, 'transient', { code: 'IN_PROGRESS' });
}

/** The work is done and the claim is ours: record it as completed, or give the claim up. */
async function settle<T>(store: EvidenceStore, claim: Claim, value: T, f: Finish, signal?: AbortSignal): Promise<IdempotentResult<T>> {
  if ('release' in f) {
    await releaseClaim(store, claim, f.release, signal);
    return { status: 'executed', value, shared: false, claim, stored: null, released: true };
  }
  try {
    if ('keep' in f) return { status: 'executed', value, shared: false, claim, stored: await keepRunReport(store, claim, f.keep, f.reason, signal), released: true };
    const completed = claim.forced ? null : await completeFinding(store, claim, f.complete, signal);
    if (completed?.created) return { status: 'executed', value, shared: false, claim, stored: completed, released: false };
    // Forced re-run (or report.json appeared meanwhile): the first completion record stands.
    const stored = await keepRunReport(store, claim, f.complete, 'report.json exists: this re-run\'s report is kept beside it', signal);
    return { status: 'executed', value, shared: false, claim, stored, released: true };
  } catch (err) {
    // The effects are done but not recorded as completed: let the retry take over now.
    await releaseClaim(store, claim, `completion record not written: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500)).catch(() => undefined);
    throw err;
  }
}

export function createIdempotency(options: IdempotencyOptions = {}): Idempotency {
  const inflight = new Map<string, Promise<IdempotentResult<unknown>>>();

  const claimOptions = (input: RunInput): ClaimOptions => ({
    ...input,
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxGenerations === undefined ? {} : { maxGenerations: options.maxGenerations }),
  });

  const execute = async <T>(input: RunInput, work: (claim: Claim | null) => Promise<T>, finish: (value: T) => Finish, signal?: AbortSignal): Promise<IdempotentResult<T>> => {
    const store = options.store;
    if (!store) return { status: 'executed', value: await work(null), shared: false, claim: null, stored: null, released: false };
    const claimed = await claimFinding(store, claimOptions(input), signal);
    if (claimed.status === 'completed') return { status: 'already-completed', report: claimed.report, shared: false };
    if (claimed.status === 'in-progress') return { status: 'in-progress', holder: claimed.holder, shared: false };
    const claim = claimed.claim;
    let value: T;
    let f: Finish;
    try {
      value = await work(claim);
      f = finish(value);
    } catch (err) {
      // Released without the (possibly aborted) signal: the redelivery should not wait for the expiry.
      await releaseClaim(store, claim, `work threw: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500)).catch(() => undefined);
      throw err;
    }
    return settle(store, claim, value, f, signal);
  };

  const executeConcurrently = async <T>(input: RunInput, work: (admit: () => Promise<void>, claim: ClaimView) => Promise<T>, finish: (value: T) => Finish, signal?: AbortSignal): Promise<IdempotentResult<T>> => {
    const store = options.store;
    if (!store) return { status: 'executed', value: await work(() => Promise.resolve(), decidedClaimView(null)), shared: false, claim: null, stored: null, released: false };
    const claimed = claimFinding(store, claimOptions(input), signal);
    // Observed by admit() or below; never an unhandled rejection while the work runs.
    claimed.catch(() => undefined);
    const admit = async (): Promise<void> => {
      const c = await claimed;
      if (c.status !== 'acquired') throw new NotAdmitted(c);
    };
    const notAcquired = (c: Exclude<ClaimResult, { status: 'acquired' }>): IdempotentResult<T> =>
      c.status === 'completed' ? { status: 'already-completed', report: c.report, shared: false } : { status: 'in-progress', holder: c.holder, shared: false };
    let value: T;
    try {
      value = await work(admit, pendingClaimView(claimed));
    } catch (err) {
      if (err instanceof NotAdmitted) return notAcquired(err.result);
      const c = await claimed.catch(() => undefined);
      if (c?.status === 'acquired') {
        await releaseClaim(store, c.claim, `work threw: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500)).catch(() => undefined);
      }
      throw err;
    }
    // Work that never called admit() took no effect; the claim still decides what it was.
    const c = await claimed;
    if (c.status !== 'acquired') return notAcquired(c);
    const claim = c.claim;
    let f: Finish;
    try {
      f = finish(value);
    } catch (err) {
      await releaseClaim(store, claim, `finish threw: ${err instanceof Error ? err.message : String(err)}`.slice(0, 500)).catch(() => undefined);
      throw err;
    }
    return settle(store, claim, value, f, signal);
  };

  const singleFlight = <T>(findingName: string, start: () => Promise<IdempotentResult<T>>): Promise<IdempotentResult<T>> => {
    const running = inflight.get(findingName) as Promise<IdempotentResult<T>> | undefined;
    if (running) return running.then((r) => ({ ...r, shared: true }));
    const p = start().finally(() => inflight.delete(findingName));
    inflight.set(findingName, p as Promise<IdempotentResult<unknown>>);
    return p;
  };

  return {
    runConcurrently: (input, work, finish, signal) => singleFlight(input.findingName, () => executeConcurrently(input, work, finish, signal)),
    inFlight: () => [...inflight.keys()],
    run<T>(input: RunInput, work: (claim: Claim | null) => Promise<T>, finish: (value: T) => Finish, signal?: AbortSignal): Promise<IdempotentResult<T>> {
      return singleFlight(input.findingName, () => execute(input, work, finish, signal));
    },
  };
}

