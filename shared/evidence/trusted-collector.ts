// The trusted collector: an ephemeral debug container from an image pinned by digest that
// targets the compromised container (it shares its pid namespace) and reads the kernel's view
// instead of running any of the target's binaries:
//   1. volatile state first (process table, fds, maps, sockets) -> volatile.json;
//   2. the finding's process(es), matched by exe link (" (deleted)" included) and cmdline;
//   3. the binary from /proc/<pid>/exe (opens even after the file was deleted), else
//      /proc/<pid>/root<path>; with no process left, <path> under the namespace's first
//      process's root. Several candidates: hashed first, the one matching the finding is kept.
// It runs as the target's uid with every capability dropped (the kernel lets a process read
// another's /proc/<pid>/exe when the uid is the same and the process is dumpable); CAP_SYS_PTRACE
// only when the policy asks (Pod Security "baseline" refuses it).
import { createHash, randomBytes } from 'node:crypto';
import { classifyError } from '../common/errors.js';
import type { Incident } from '../finding/types.js';
import { putBytes } from '../ledger/json.js';
import { META, type FindingKeys } from '../ledger/layout.js';
import type { EvidenceStore, PodView, PreparedDebugContainer, Workloads } from '../ports.js';
import { runCopy, type CopyDeps, type CopyResult, type CopySink, type VerifiedCopy } from './copy-attempt.js';
import type { Deadline } from './deadline.js';
import type { ExecBudget } from './exec-text.js';
import type { CollectorReport, ExecAttempt, FailureBlame, SnapshotFailure, SnapshotPolicy, VolatileArtefact } from './types.js';
import { classifyExecError } from './exec-outcome.js';
import { keptHashProvenCopy, startHashProvenCopy } from './hash-proven-copy.js';
import { boundedJson, CollectorExecError, startVolatile, summariseSockets, type ProcessSearch, type VolatileRun, type VolatileState } from './volatile.js';

/** Debug containers sleep this long: enough to exec into, gone soon after. */
export const DEBUG_SLEEP_SECONDS = '600';

export interface TrustedInput {
  incident: Incident;
  workloads: Workloads;
  store: EvidenceStore;
  keys: FindingKeys;
  deadline: Deadline;
  budget: ExecBudget;
  namespace: string;
  pod: string;
  container: string;
  path: string;
  podView: PodView | undefined;
  policy: SnapshotPolicy;
  /** Where a copy of the binary goes (metadata set by the snapshot). */
  sink: (source: string) => CopySink;
  attempts: ExecAttempt[];
  /** The wait's watch, opened beside the pod read (snapshot.ts prepareCollector). */
  prepared?: PreparedDebugContainer;
}

export interface TrustedFailure {
  failure: SnapshotFailure;
  reason: string;
  blame: FailureBlame;
  code?: number | string;
}

export interface TrustedOutcome {
  report: CollectorReport;
  volatile?: VolatileArtefact;
  copy?: Extract<CopyResult, { kind: 'stored' | 'exists' }> & { process?: { pid: number; exe: string; cmdline: string[] } };
  /** No copy: why, and whose doing. */
  failure?: TrustedFailure;
  /** The container's own tools may still be tried (the collector could not read the file). */
  fallback: boolean;
  withheld: string[];
}

function debugName(incident: Incident): string {
  return `scc-evidence-${createHash('sha256').update(incident.findingName).digest('hex').slice(0, 8)}-${randomBytes(3).toString('hex')}`;
}

/** Adding the debug container failed: who is to blame and whether the container's tools may stand in. */
function addFailure(err: unknown, deadline: Deadline, name: string, image: string): { failure: TrustedFailure; fallback: boolean } {
  const c = classifyError(err);
  const code = c.code === undefined ? {} : { code: c.code };
  if (deadline.signal.aborted) return { failure: { failure: deadline.failure(), reason: `adding the debug container ${name} did not finish: ${c.reason}`, blame: 'ours', ...code }, fallback: false };
  if (c.code === 403 && /PodSecurity/.test(c.reason)) {
    return { failure: { failure: 'debug-container-failed', reason: `Pod Security admission refused the collector ${name} (${image}): ${c.reason}`, blame: 'none', ...code }, fallback: true };
  }
  if (c.code === 401 || c.code === 403) {
    return { failure: { failure: 'exec-forbidden', reason: `adding the evidence collector was refused (${c.code}): the responder's identity lacks patch on pods/ephemeralcontainers (infra/k8s/rbac.yaml): ${c.reason}`, blame: 'ours', ...code }, fallback: false };
  }
  if (c.code === 404) return { failure: { failure: 'pod-gone', reason: `the pod no longer exists (404 adding the debug container): ${c.reason}`, blame: 'none', ...code }, fallback: false };
  return { failure: { failure: 'debug-container-failed', reason: `adding the debug container ${name} (${image}) failed: ${c.reason}`, blame: 'ours', ...code }, fallback: false };
}

async function storeVolatile(input: TrustedInput, state: VolatileState): Promise<VolatileArtefact> {
  const body = boundedJson(state);
  const sha256 = createHash('sha256').update(body).digest('hex');
  const r = await input.deadline.race(
    putBytes(input.store, input.keys.volatile, 'volatile', body, { [META.finding]: input.incident.findingName, [META.sha256]: sha256 }, { contentType: 'application/json', signal: input.deadline.signal }),
  );
  return { key: input.keys.volatile, uri: r.object.uri, sha256, bytes: body.length, processes: state.processes.length, suspects: state.suspects, ...summariseSockets(state), problems: state.problems };
}

/** Adds one collector container; a failure says whose doing it is and whether to fall back. */
async function addCollector(input: TrustedInput, name: string, runAsUser: number | undefined): Promise<{ failure: TrustedFailure; fallback: boolean } | undefined> {
  const { deadline, policy } = input;
  const image = policy.debugContainer.image;
  const ptrace = policy.debugContainer.ptrace === true;
  const t0 = Date.now();
  try {
    await deadline.race(
      input.workloads.addDebugContainer(
        { namespace: input.namespace, pod: input.pod, name, image, targetContainer: input.container, command: ['sleep', DEBUG_SLEEP_SECONDS], timeoutMs: deadline.remaining(), ...(runAsUser === undefined ? {} : { runAsUser }), ptrace, ...(input.podView?.resourceVersion === undefined ? {} : { resourceVersion: input.podView.resourceVersion }), ...(input.prepared ? { prepared: input.prepared } : {}) },
        deadline.signal,
      ),
    );
    return undefined;
  } catch (err) {
    const f = addFailure(err, deadline, name, image);
    input.attempts.push({ method: 'debug-container', container: name, command: ['sleep', DEBUG_SLEEP_SECONDS], outcome: f.failure.failure, exitCode: null, reason: f.failure.reason, bytes: 0, durationMs: Date.now() - t0 });
    return f;
  }
}

/**
 * Runs the collector; never throws for expected failures. Two branches once the first reads
 * are back: the volatile state (startVolatile) and, as soon as exe links (and, when they do not
 * settle it, cmdlines) name the process, the binary (or at once, hash-proven-copy.ts). The
 * copy and volatile.json are written side by side and the copy counts as committed only once
 * both are stored (besideVolatile); a redelivery that finds the binary without its
 * volatile.json collects again.
 */
export async function collectTrusted(input: TrustedInput): Promise<TrustedOutcome> {
  try {
    return await collect(input);
  } finally {
    // Connections held for the collector's execs (exec spares) are not needed any more.
    input.workloads.collectorDone?.();
  }
}

async function collect(input: TrustedInput): Promise<TrustedOutcome> {
  const { policy, deadline } = input;
  const name = debugName(input.incident);
  const runAsUser = input.podView?.containers.find((c) => c.name === input.container)?.runAsUser;
  const report: CollectorReport = { used: false, container: name, image: policy.debugContainer.image, ...(runAsUser === undefined ? {} : { runAsUser }), ptrace: policy.debugContainer.ptrace === true };
  const added = await addCollector(input, name, runAsUser);
  if (added) return { report: { ...report, reason: added.failure.reason }, failure: added.failure, fallback: added.fallback, withheld: [] };
  report.used = true;
  const text = { workloads: input.workloads, namespace: input.namespace, pod: input.pod, container: name, deadline, budget: input.budget };
  // Volatile reads get half of what is left at most: the binary (what the gate judges) keeps the rest.
  const run = startVolatile(text, input.incident, input.path, Math.max(1, Math.floor(deadline.remaining() / 2)));
  const stored = run.state.then(async (state) => ({ state, volatile: await storeVolatile(input, state) }));
  stored.catch(() => undefined); // read below, after the copy
  const gated: TrustedInput = { ...input, sink: (source) => besideVolatile(input.sink(source), stored) };
  const guess = startHashProvenCopy(copyDeps(gated), name, input.path, gated.sink);
  const early = startEarly(gated, name, run, guess?.kept);
  let search: ProcessSearch;
  try {
    search = await run.search;
  } catch (err) {
    early.drop();
    // Let the guess settle. Kept or not: a binary stored without volatile.json is collected
    // again by the redelivery this failure asks for (snapshot.ts earlierCopy).
    await guess?.result;
    return { report, failure: collectorExecFailure(err, deadline), fallback: false, withheld: [] };
  }
  const proven = guess && (await keptHashProvenCopy(guess, input.attempts));
  const copied = proven ? provenOutcome(proven, search, input.path) : await copyBinary(gated, name, search, () => run.state, await early.settle(search));
  let volatile: VolatileArtefact;
  let state: VolatileState;
  try {
    ({ volatile, state } = await stored);
  } catch (err) {
    const c = classifyError(err);
    const failure: TrustedFailure = { failure: deadline.signal.aborted ? deadline.failure() : 'store-failed', reason: `writing volatile.json to ${input.store.location} failed: ${c.reason}`, blame: 'ours', ...(c.code === undefined ? {} : { code: c.code }) };
    return { report, failure, fallback: false, withheld: [] };
  }
  const retry = copied.failure?.failure === 'permission-denied' ? await asProcessUid(input, state, runAsUser ?? 0, report) : undefined;
  return { report, volatile, ...(retry ?? copied) };
}

/**
 * The copy's store with volatile.json beside it: the binary's create-only write starts at once
 * and runs beside volatile.json's (on a bucket one round trip instead of two, one after the
 * other, in front of the DELETE), and the copy counts as committed (onVerified's `committed`,
 * what containment waits for) only once both are stored; a copy whose volatile.json failed is
 * not committed evidence, and the snapshot fails on our side as before. A stored binary can
 * now lack its volatile.json (that write failed, or the instance died between the two): a
 * redelivery that finds a collector's binary without it collects again (snapshot.ts
 * earlierCopy), so the volatile state is never silently missing.
 */
function besideVolatile(sink: CopySink, stored: Promise<unknown>): CopySink {
  const verified = sink.onVerified;
  if (!verified) return sink;
  const both = (committed: VerifiedCopy['committed']): VerifiedCopy['committed'] => Promise.all([committed, stored]).then(([object]) => object, () => undefined);
  return { ...sink, onVerified: (copy) => verified({ ...copy, committed: both(copy.committed) }) };
}

/**
 * The copy's store, whose create-only write starts once `before` resolves (and fails when it
 * rejects). A copy counts as verified only then: before that it may still be dropped unstored.
 */
function gatedSink(sink: CopySink, before: Promise<unknown>): CopySink {
  const store = sink.store;
  const gatedStore: EvidenceStore = {
    location: store.location,
    stat: (key, signal) => store.stat(key, signal),
    readText: (key, signal) => store.readText(key, signal),
    list: (prefix, signal) => store.list(prefix, signal),
    create: async (key, body, metadata, signal, options) => {
      await before;
      return store.create(key, body, metadata, signal, options);
    },
  };
  const verified = sink.onVerified;
  const onVerified = verified && ((copy: VerifiedCopy): void => void before.then(() => verified(copy), () => undefined));
  return { ...sink, store: gatedStore, ...(onVerified ? { onVerified } : {}) };
}

/** A copy started before the search ended: the first source's result, once the search confirms it. */
interface EarlyCopy {
  source: string;
  result: Promise<CopyResult>;
}

class Superseded extends Error {}

/**
 * Starts the search's most likely first copy from the exe links alone (VolatileRun.early), while
 * the cmdlines are still being read: `cat /proc/<pid>/exe` when they name one process alone, or
 * the file under the first process's root when none runs it. Its store write waits for
 * volatile.json and for the search to confirm the copy it would have made first anyway: the
 * same first source (sourcesFor), and no finding's hash to choose between several suspects
 * (preferMatching hashes each first). Otherwise the early copy is dropped unstored and the
 * search's order runs as before.
 */
function startEarly(input: TrustedInput, container: string, run: VolatileRun, guessKept?: Promise<boolean>): { settle: (search: ProcessSearch) => Promise<EarlyCopy | undefined>; drop: () => void } {
  let decide: (ok: boolean) => void = () => undefined;
  const confirmed = new Promise<boolean>((resolve) => {
    decide = resolve;
  });
  // A hash-proven guess in flight goes first (both would write the same object): the early copy
  // starts only once the guess is known not to be kept.
  const started = Promise.all([run.early, guessKept]).then(([early, kept]) => {
    if (early === undefined || kept === true) return undefined;
    const { source } = early;
    const ok = confirmed.then((yes) => {
      if (!yes) throw new Superseded(`the copy of ${source} started early was not kept: the search reads another source first`);
    });
    ok.catch(() => undefined);
    const sink = gatedSink(input.sink(source), ok);
    return { ...early, result: runCopy(copyDeps(input), { method: 'debug-container', container, command: ['cat', '--', source], source, sink }) };
  });
  started.catch(() => undefined);
  return {
    drop: () => decide(false),
    settle: async (search) => {
      const e = await started.catch(() => undefined);
      if (e === undefined) return undefined;
      const first = sourcesFor(search, input.path)[0]?.path;
      const yes = first === e.source && (search.suspects.length < 2 || input.incident.binary?.sha256 === undefined);
      decide(yes);
      if (yes) return { source: e.source, result: e.result };
      const r = await e.result;
      const why =
        e.pid === undefined
          ? `started when no exe link named ${input.path}; not kept: the search reads ${first ?? 'no source'} first`
          : `started when the exe links named pid ${e.pid} alone; not kept: ${search.suspects.length} processes match and the finding's hash chooses between them`;
      // Dropped by the gate (Superseded, a store failure to runCopy), or failed on its own first.
      const dropped = r.kind === 'failed' && r.failure === 'store-failed';
      input.attempts.push({ ...r.attempt, ...(dropped ? { outcome: 'aborted' as const } : {}), reason: dropped ? why : `${why}; ${r.attempt.reason ?? ''}` });
      return undefined;
    },
  };
}

function copyDeps(input: TrustedInput): CopyDeps {
  return { workloads: input.workloads, namespace: input.namespace, pod: input.pod, deadline: input.deadline, budget: input.budget, maxBytes: input.policy.maxBytes, binary: input.incident.binary, timeoutMs: input.policy.timeoutMs };
}

/**
 * The kernel refused the read and the process runs as another uid than the collector (the pod
 * spec did not say which; /proc/<pid>/status did): one more collector, as that uid.
 */
async function asProcessUid(input: TrustedInput, state: VolatileState, ran: number, report: CollectorReport): Promise<Pick<TrustedOutcome, 'copy' | 'failure' | 'fallback' | 'withheld'> | undefined> {
  const uids = new Set(state.processes.filter((p) => state.suspects.length === 0 || state.suspects.includes(p.pid)).map((p) => p.uid));
  const uid = [...uids][0];
  if (uids.size !== 1 || uid === undefined || uid === ran) return undefined;
  const name = debugName(input.incident);
  if (await addCollector(input, name, uid)) return undefined;
  report.container = name;
  report.runAsUser = uid;
  return copyBinary(input, name, state, () => Promise.resolve(state));
}

/** The collector's own exec failed: ours (RBAC on pods/exec, the API, the image), never the target's. */
function collectorExecFailure(err: unknown, deadline: Deadline): TrustedFailure {
  if (deadline.signal.aborted) return { failure: deadline.failure(), reason: `reading /proc in the collector did not finish: ${classifyError(err).reason}`, blame: 'ours' };
  const cause = err instanceof CollectorExecError ? err.cause : err;
  if (cause === undefined) return { failure: 'debug-container-failed', reason: `${err instanceof Error ? err.message : String(err)} (the collector image lacks ls?)`, blame: 'ours' };
  const c = classifyExecError(cause, 'ls /proc (collector)');
  const failure: SnapshotFailure = c.outcome === 'ok' || c.outcome === 'tool-missing' ? 'debug-container-failed' : c.outcome;
  return { failure, reason: c.reason, blame: 'ours', ...(c.code === undefined ? {} : { code: c.code }) };
}

interface Source {
  path: string;
  process?: { pid: number; exe: string; cmdline: string[] };
}

/** Where the binary can be read, best first. */
function sourcesFor(state: ProcessSearch, path: string): Source[] {
  const byPid = new Map(state.processes.map((p) => [p.pid, p]));
  const out: Source[] = [];
  for (const pid of state.suspects) {
    const p = byPid.get(pid);
    const proc = { pid, exe: p?.exe ?? path, cmdline: p?.cmdline ?? [] };
    out.push({ path: `/proc/${pid}/exe`, process: proc }, { path: `/proc/${pid}/root${path}`, process: proc });
  }
  // No process holds it (exited): the file itself, under the namespace's first process's root.
  const first = state.processes[0];
  if (state.suspects.length === 0 && first !== undefined) out.push({ path: `/proc/${first.pid}/root${path}` });
  return out;
}

type CopyOutcome = Pick<TrustedOutcome, 'copy' | 'failure' | 'fallback' | 'withheld'>;

/** Copies the binary from the search's sources in order; `early` is the first one's copy, already running. */
async function copyBinary(input: TrustedInput, container: string, state: ProcessSearch, full: () => Promise<VolatileState>, early?: EarlyCopy): Promise<CopyOutcome> {
  const withheld = deletedNotes(state, input.path, 'the copy comes from the running process');
  const deps = copyDeps(input);
  // A confirmed early copy is what preferMatching would have put first (it reorders nothing there).
  const sources = early ? sourcesFor(state, input.path) : await preferMatching(deps, container, sourcesFor(state, input.path), input.attempts);
  const failures: CopyResult[] = [];
  for (const source of sources) {
    const r = early && source.path === early.source ? await early.result : await runCopy(deps, { method: 'debug-container', container, command: ['cat', '--', source.path], source: source.path, sink: input.sink(source.path) });
    input.attempts.push(r.attempt);
    if (r.kind === 'stored' || r.kind === 'exists') return { copy: { ...r, ...(source.process ? { process: source.process } : {}) }, fallback: false, withheld };
    if (r.kind !== 'failed') continue;
    failures.push(r);
    // Our side (store, deadline, a dropped stream): stop here, the gate holds.
    if (!['file-missing', 'permission-denied', 'not-a-regular-file', 'exec-failed'].includes(r.failure)) {
      // Our own tool in our own container that stalls is our side (API, store), never the target's.
      return { failure: { failure: r.failure as SnapshotFailure, reason: r.reason, blame: r.failure === 'exec-flood' ? 'target' : 'ours', ...(r.code === undefined ? {} : { code: r.code }) }, fallback: false, withheld };
    }
  }
  // Why nothing was copied may need the uids (status): the volatile reads are bounded, so waiting is too.
  const all = await full().catch(() => state);
  return { failure: noCopyFailure(input, all, failures), fallback: true, withheld };
}

/** What the exe links say the target did to the file after running it. */
function deletedNotes(state: ProcessSearch, path: string, copiedFrom: string): string[] {
  const deleted = state.processes.filter((p) => state.suspects.includes(p.pid) && p.exe?.endsWith(' (deleted)'));
  return deleted.length === 0 ? [] : [`the target deleted ${path} after running it (exe link of pid ${deleted.map((p) => p.pid).join(', ')} reads "(deleted)"); ${copiedFrom}`];
}

/** The kept guess as the collector's copy: pid 1's process when the search counts it a suspect. */
function provenOutcome(copy: Extract<CopyResult, { kind: 'stored' | 'exists' }>, state: ProcessSearch, path: string): CopyOutcome {
  const p = state.suspects.includes(1) ? state.processes.find((x) => x.pid === 1) : undefined;
  const process = p ? { pid: 1, exe: p.exe ?? path, cmdline: p.cmdline ?? [] } : undefined;
  return { copy: { ...copy, ...(process ? { process } : {}) }, fallback: false, withheld: deletedNotes(state, path, "the copy read from the first process's root has the finding's SHA-256") };
}

/** Why the collector found nothing to copy: the file is gone, or the kernel refused the read. */
function noCopyFailure(input: TrustedInput, state: ProcessSearch, failures: CopyResult[]): TrustedFailure {
  const denied = failures.some((f) => f.kind === 'failed' && f.failure === 'permission-denied');
  if (denied) {
    const uids = [...new Set(state.processes.filter((p) => state.suspects.includes(p.pid) || state.suspects.length === 0).map((p) => p.uid).filter((u) => u !== undefined))];
    return {
      failure: 'permission-denied',
      reason: `the kernel refused the collector access to the process (ptrace rule: same uid and dumpable, or CAP_SYS_PTRACE); it ran as uid ${input.podView?.containers.find((c) => c.name === input.container)?.runAsUser ?? 'of the image (0)'}, the process as uid ${uids.join(', ') || 'unknown'}. Set runAsUser in the pod spec, or snapshot.debugContainer.ptrace where Pod Security allows it`,
      blame: 'target',
    };
  }
  if (state.suspects.length === 0) {
    return { failure: 'binary-gone', reason: `no running process holds ${input.path} and the file is not in the container: the target deleted it (evidence destroyed by the target)`, blame: 'target' };
  }
  const last = failures[failures.length - 1];
  return { failure: 'file-missing', reason: last?.kind === 'failed' ? last.reason : 'no copy could be read', blame: 'target' };
}

/** Several processes: hash each exe first and put the one matching the finding first. */
async function preferMatching(deps: CopyDeps, container: string, sources: Source[], attempts: ExecAttempt[]): Promise<Source[]> {
  const exes = sources.filter((s) => s.path.endsWith('/exe'));
  if (exes.length < 2 || deps.binary?.sha256 === undefined) return sources;
  for (const s of exes) {
    const r = await runCopy(deps, { method: 'debug-container', container, command: ['cat', '--', s.path], source: s.path, sink: null });
    attempts.push({ ...r.attempt, reason: `hashed to choose between ${exes.length} processes${r.attempt.reason ? `; ${r.attempt.reason}` : ''}` });
    if (r.kind === 'hashed' && r.hash.verdict === 'matches') return [s, ...sources.filter((x) => x !== s)];
  }
  return sources;
}
