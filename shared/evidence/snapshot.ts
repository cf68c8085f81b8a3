// Snapshot: the evidence of one finding, collected so that a reviewer can trust it and the
// target cannot stop containment by withholding it.
//
// Methods, in order: the trusted collector (an ephemeral debug container from a pinned image
// reading /proc: volatile state, then the binary from the running process; trusted-collector.ts)
// when the policy enables it for this rule; then the container's own `cat -- PATH`, and its
// `tar cf - PATH` unpacked on the fly when the image has no cat. The container's own tools may
// be the attacker's: a copy they make counts only when its hash matches the finding
// (manifest.ts), and the manifest records which tool read it.
//
// Every failure says whose doing it is (FailureBlame): the target's (file deleted, tools missing
// or lying, a tool that hangs) or ours (store, RBAC, API). The gate in front of destructive
// actions reads that (shared/contain/guards.ts).
import type { Incident } from '../finding/types.js';
import type { EvidenceStore, PodView, PreparedDebugContainer, StoredObject, Workloads } from '../ports.js';
import { classifyError } from '../common/errors.js';
import { afterPoll } from '../common/turn.js';
import { failureKind } from './exec-outcome.js';
import { findingKeys, META, type FindingKeys } from '../ledger/layout.js';
import { isComplete, recordMetadata } from '../ledger/json.js';
import { manualDebugCopyCommands } from './manual-command.js';
import { validateBinaryPath } from './path.js';
import { runCopy, type CopyDeps, type CopyResult, type CopySink, type VerifiedCopy } from './copy-attempt.js';
import { Deadline } from './deadline.js';
import { ExecBudget } from './exec-text.js';
import { buildManifest, countsAsEvidence, readExistingManifest, trustOf, writeManifest } from './manifest.js';
import { EvidenceByteBudget } from './byte-budget.js';
import { collectTrusted, type TrustedFailure, type TrustedOutcome } from './trusted-collector.js';
import { tarMemberName } from './tar-member.js';
import type { CollectorInfo, EvidenceFailed, EvidenceManifest, EvidenceResult, EvidenceStored, ExecAttempt, FailureBlame, SnapshotFailure, SnapshotMethod, SnapshotPolicy } from './types.js';

export { MANIFEST_SCHEMA } from './manifest.js';

export interface SnapshotInput {
  incident: Incident;
  workloads: Workloads;
  store: EvidenceStore;
  policy: SnapshotPolicy;
  collector: CollectorInfo;
  signal?: AbortSignal;
  /** The pod as enrichment read it; read here when absent (for UID, container id, image digest). */
  pod?: PodView;
  /**
   * When given, a new copy's records (manifest.json, the byte count) are written after the
   * result is returned: the gate reads `counts` from the result, never the manifest object, and
   * a failed manifest write was already only a warning. `records` settles (never rejects) once
   * they are written, within the snapshot's deadline; the result's manifestObject and warnings
   * are filled in then.
   */
  afterStored?: (records: Promise<void>) => void;
  /**
   * When given: called as soon as a copy is complete, hashed and being committed (the first
   * such copy; a later one only after that copy's commit failed), with what the gate needs to
   * know before the commit ends: whether the copy counts as the evidence (manifest.ts
   * countsAsEvidence, the same rule the manifest applies) and the commit's outcome.
   */
  onVerified?: (copy: VerifiedEvidence) => void;
  /**
   * Whether this delivery is the finding's first (it created claim-0, see
   * shared/record/idempotency.ts); a promise while the claim is in flight. A first delivery does
   * not ask the store for an earlier copy before making one.
   */
  firstDelivery?: () => boolean | Promise<boolean>;
}

/** A verified copy whose commit is in flight: its verdict is known, its durability not yet. */
export interface VerifiedEvidence {
  counts: boolean;
  /** Why it does not count (a cut copy, a decoy, a container tool whose copy differs). */
  because?: string;
  /** The committed object; undefined when the commit failed or another writer's copy won. Never rejects. */
  committed: Promise<StoredObject | undefined>;
}

const MIB = 1024 * 1024;

/**
 * The snapshot policy for one run: the trusted collector adds an ephemeral container, a write
 * that can never be undone, so it runs in enforce, and in dry-run only where the policy says
 * `debugContainer.dryRun: true` (never for the CLI's --dry-run, which passes 'cli-dry-run').
 */
export function snapshotPolicyFor(policy: SnapshotPolicy, mode: 'enforce' | 'dry-run' | 'cli-dry-run'): SnapshotPolicy {
  const allowed = mode === 'enforce' || (mode === 'dry-run' && policy.debugContainer.dryRun === true);
  if (!policy.debugContainer.enabled || allowed) return policy;
  const why =
    mode === 'cli-dry-run'
      ? '--dry-run never writes to the cluster'
      : 'this rule is dry-run and snapshot.debugContainer.dryRun is false (adding an ephemeral container is a write that cannot be undone)';
  const offReason = `${why}. In enforce, the collector ${policy.debugContainer.image} would be added to the pod (targeting the container, as its uid, all capabilities dropped) to read the process table, open files, sockets and the binary through /proc/<pid>/exe before any destructive action; here the container's own cat/tar were used instead`;
  return { ...policy, debugContainer: { ...policy.debugContainer, enabled: false, offReason } };
}

interface Run {
  input: SnapshotInput;
  keys: FindingKeys;
  path: { requested: string; read: string };
  deadline: Deadline;
  budget: ExecBudget;
  attempts: ExecAttempt[];
  startedAt: string;
  withheld: string[];
  /** Said in the result's warnings (a stored copy found incomplete, collected again). */
  notes: string[];
  /** A collector's binary an earlier delivery stored without its volatile.json (earlierCopy). */
  binaryAlone?: StoredObject;
  pod: PodView | undefined;
  trusted?: TrustedOutcome;
  budgetCounter?: EvidenceByteBudget;
  /** Records still being written after the result was returned (afterStored). */
  records?: Promise<void>;
  /** The collector's watch, opened beside the pod read (prepareCollector); closed when the snapshot ends. */
  prepared?: PreparedDebugContainer;
}

/** Failures the target causes: recorded as significant, never a reason to hold containment. */
const TARGET_CAUSED: ReadonlySet<SnapshotFailure> = new Set<SnapshotFailure>(['file-missing', 'binary-gone', 'no-tools', 'permission-denied', 'not-a-regular-file', 'invalid-path', 'exec-flood', 'container-not-running', 'budget-exceeded']);

export function blameOf(failure: SnapshotFailure, duringContainerTool: boolean, code?: number | string): FailureBlame {
  if (failure === 'pod-gone' || failure === 'invalid-target') return 'none';
  if (TARGET_CAUSED.has(failure)) return 'target';
  // A tool of the container that hangs past the deadline, or exits non-zero (no API status):
  // the target's doing. An HTTP error from the API server is ours.
  if (duringContainerTool && (failure === 'timeout' || (failure === 'exec-failed' && code === undefined))) return 'target';
  return 'ours';
}

function base(run: Pick<Run, 'input' | 'attempts' | 'startedAt' | 'withheld' | 'trusted'> & { keys?: FindingKeys }): Omit<EvidenceFailed, 'outcome' | 'failure' | 'kind' | 'reason' | 'blame'> {
  return {
    storeLocation: run.input.store.location,
    attempts: run.attempts,
    startedAt: run.startedAt,
    endedAt: new Date().toISOString(),
    ...(run.keys ? { keys: { binary: run.keys.binary, manifest: run.keys.manifest } } : {}),
    ...(run.trusted?.volatile ? { volatile: run.trusted.volatile } : {}),
    ...(run.trusted ? { collector: run.trusted.report } : run.input.policy.debugContainer.offReason ? { collector: { used: false, image: run.input.policy.debugContainer.image, reason: run.input.policy.debugContainer.offReason } } : {}),
    withheldByTarget: run.withheld,
  };
}

function failedResult(run: Pick<Run, 'input' | 'attempts' | 'startedAt' | 'withheld' | 'trusted'> & { keys?: FindingKeys }, f: { failure: SnapshotFailure; reason: string; blame: FailureBlame; code?: number | string; manualCommands?: string[] }): EvidenceFailed {
  if (f.blame === 'target') run.withheld.push(`evidence destroyed or withheld by the target: ${f.reason}`);
  return {
    outcome: 'failed',
    failure: f.failure,
    kind: failureKind(f.failure, f.code),
    reason: f.reason,
    blame: f.blame,
    ...(f.code === undefined ? {} : { code: f.code }),
    ...(f.manualCommands ? { manualCommands: f.manualCommands } : {}),
    ...base(run),
  };
}

/**
 * Collects the finding's evidence into the store. Never throws for expected failures: the
 * result says what happened (`stored`, `exists`, or `failed` with a reason, whether a retry can
 * help and whose doing it was). Only programming errors escape.
 */
export async function snapshotBinary(input: SnapshotInput): Promise<EvidenceResult> {
  const { incident } = input;
  const pre = { input, attempts: [] as ExecAttempt[], startedAt: new Date().toISOString(), withheld: [] as string[] };
  // 1. What to copy, from where. All of it is finding data: validate before use.
  const { namespace, pod, container, cluster } = incident;
  if (!namespace || !pod || !container) return failedResult(pre, { failure: 'invalid-target', reason: `the finding names no ${!namespace ? 'namespace' : !pod ? 'pod' : 'container'}, so there is no container to copy from`, blame: 'none' });
  if (cluster === null) return failedResult(pre, { failure: 'invalid-target', reason: 'the finding is not about a GKE cluster', blame: 'none' });
  if (incident.binary?.path === undefined) return failedResult(pre, { failure: 'invalid-path', reason: 'the finding carries no binary path', blame: 'target' });
  const checked = validateBinaryPath(incident.binary.path);
  if (!checked.ok) return failedResult(pre, { failure: 'invalid-path', reason: `${checked.reason}: ${JSON.stringify(checked.requested.slice(0, 200))}`, blame: 'target' });
  const keys = findingKeys(incident);
  const p = input.policy;
  const run: Run = {
    ...pre,
    keys,
    path: { requested: checked.requested, read: checked.path },
    deadline: new Deadline(p.timeoutMs, input.signal),
    budget: new ExecBudget(p.execByteCap ?? 2 * p.maxBytes + 16 * MIB),
    pod: input.pod,
    notes: [],
  };
  try {
    return await collect(run);
  } finally {
    run.prepared?.close(); // done with, or never used: no collector was added
    if (run.records) void run.records.finally(() => run.deadline.dispose());
    else run.deadline.dispose();
  }
}

async function collect(run: Run): Promise<EvidenceResult> {
  // 2. Already there? (an earlier delivery of the same finding, or a run that crashed later)
  // The pod and the byte budget are read at the same time (reads; their answers count only
  // when there is no copy yet, in this order: pod first, then budget).
  const pod = readPod(run);
  prepareCollector(run);
  const over = applyBudget(run);
  // A first delivery has no earlier copy to look for on the way to a new one (one store read
  // less; a copy stored meanwhile by a concurrent delivery still wins, create-only). The claim
  // is usually still in flight here; its answer is awaited instead of reading the store, as it
  // comes in about when the pod's does (both one round trip, the claim sent first), which the
  // copy waits for anyway. When no copy can be made now (pod, budget), it looks after all: a
  // delivery whose claim failed may have stored one before it gave up.
  const looked = (await isFirstDelivery(run)) !== true;
  if (looked) {
    const earlier = await earlierCopy(run);
    if (earlier !== null) return earlier;
  }
  const [podProblem, overBudget] = await Promise.all([pod, over]);
  const problem = podProblem ?? overBudget;
  const alone = run.binaryAlone;
  if (!problem) {
    if (alone) run.notes.push(`${ALONE}: the evidence was collected again`);
    return runMethods(run);
  }
  if (alone) {
    run.notes.push(`${ALONE}, and no new collection can be made now (${problem.reason})`);
    return existsResult(run, alone, "a copy of this finding's binary is already stored (an earlier delivery of the finding)", false);
  }
  return (looked ? null : await earlierCopy(run, true)) ?? problem;
}

const ALONE = 'the binary stored by an earlier delivery has no volatile.json beside it (that write failed, or the instance stopped between the two)';

/** The claim's answer (false when it fails or the snapshot's deadline ends first). */
async function isFirstDelivery(run: Run): Promise<boolean> {
  const first = run.input.firstDelivery?.();
  if (typeof first !== 'object') return first === true;
  return run.deadline.race(first).catch(() => false);
}

/**
 * The result for a complete copy already in the store (or for failing to look); null when there
 * is none. A copy the trusted collector made is complete only with its volatile.json beside it
 * (the two are written side by side: trusted-collector.ts besideVolatile); without it, null
 * (run.binaryAlone: the evidence is collected again, its binary then meeting the stored one,
 * create-only), unless `evenAlone` (nothing can be collected now: the stored binary it is).
 */
async function earlierCopy(run: Run, evenAlone = false): Promise<EvidenceResult | null> {
  const { input, keys, deadline } = run;
  let existing: StoredObject | null;
  let volatile: StoredObject | null;
  try {
    [existing, volatile] = await deadline.race(Promise.all([input.store.stat(keys.binary, deadline.signal), input.store.stat(keys.volatile, deadline.signal)]));
  } catch (err) {
    const c = classifyError(err);
    if (deadline.signal.aborted) return failedResult(run, { failure: deadline.failure(), reason: `checking the evidence store for an existing copy: ${c.reason}`, blame: 'ours' });
    return failedResult(run, { failure: 'store-failed', reason: `checking the evidence store for an existing copy failed: ${c.reason}`, blame: 'ours', ...(c.code === undefined ? {} : { code: c.code }) });
  }
  if (existing === null) return null;
  if (existing.metadata[META.method] === 'debug-container' && volatile === null) {
    if (!evenAlone) {
      run.binaryAlone = existing;
      return null;
    }
    run.notes.push(`${ALONE}; no new collection can be made now`);
  }
  return existsResult(run, existing, "a complete copy of this finding's binary is already stored (an earlier delivery of the finding)", false);
}

/**
 * The trusted collector comes first: its wait for "running" starts watching the pod now,
 * beside the pod read, so the watch's request and connection are not left for the PATCH's
 * moment (Workloads.prepareDebugContainer). When the snapshot ends without adding the collector
 * (a stored copy, a gone pod, the budget), snapshotBinary closes it unused.
 */
function prepareCollector(run: Run): void {
  const { workloads, policy, incident } = run.input;
  if (!policy.debugContainer.enabled || policy.debugContainer.preferred === false || !workloads.prepareDebugContainer) return;
  run.prepared = workloads.prepareDebugContainer({ namespace: incident.namespace ?? '', pod: incident.pod ?? '', timeoutMs: run.deadline.remaining() }, run.deadline.signal);
}

/** The cluster's hourly byte budget: copies are capped at what is left; none when it is used up. */
async function applyBudget(run: Run): Promise<EvidenceFailed | undefined> {
  const { input, deadline } = run;
  const limit = input.policy.hourlyByteBudget;
  const cluster = input.incident.cluster;
  if (limit === undefined || !cluster) return undefined;
  run.budgetCounter = new EvidenceByteBudget(input.store, limit);
  let left: number;
  try {
    left = await deadline.race(run.budgetCounter.remaining({ project: cluster.project, cluster: cluster.name }, deadline.signal));
  } catch (err) {
    const c = classifyError(err);
    return failedResult(run, { failure: deadline.signal.aborted ? deadline.failure() : 'store-failed', reason: `reading the evidence byte budget failed: ${c.reason}`, blame: 'ours', ...(c.code === undefined ? {} : { code: c.code }) });
  }
  if (left <= 0) {
    return failedResult(run, { failure: 'budget-exceeded', reason: `the cluster's evidence budget of ${limit} bytes this hour is used up (snapshot.hourlyBytesPerCluster): a flood of findings or junk; nothing more is stored until the next hour`, blame: 'target' });
  }
  if (left < input.policy.maxBytes) run.input = { ...input, policy: { ...input.policy, maxBytes: left } };
  return undefined;
}

/** The pod: UID, container id, image digest and runAsUser; a clear answer when it is gone. */
async function readPod(run: Run): Promise<EvidenceFailed | undefined> {
  const { input, deadline } = run;
  const { namespace = '', pod = '', container = '' } = input.incident;
  if (run.pod === undefined) {
    try {
      run.pod = await deadline.race(input.workloads.readPod(namespace, pod, deadline.signal));
    } catch (err) {
      const c = classifyError(err);
      if (deadline.signal.aborted) return failedResult(run, { failure: deadline.failure(), reason: `reading pod ${namespace}/${pod}: ${c.reason}`, blame: 'ours' });
      if (c.code === 404) return failedResult(run, { failure: 'pod-gone', reason: `pod ${namespace}/${pod} no longer exists, so the binary cannot be copied`, blame: 'none', code: 404 });
    }
  }
  const cv = run.pod?.containers.find((c) => c.name === container);
  if (run.pod !== undefined && cv === undefined) return failedResult(run, { failure: 'invalid-target', reason: `pod ${namespace}/${pod} has no container named ${JSON.stringify(container)}`, blame: 'none' });
  if (cv !== undefined && cv.state !== 'running' && cv.state !== 'unknown') {
    return failedResult(run, { failure: 'container-not-running', reason: `container ${container} in ${namespace}/${pod} is ${cv.state}${cv.stateReason ? ` (${cv.stateReason})` : ''}: nothing to exec into`, blame: 'target' });
  }
  return undefined;
}

function sinkFor(run: Run, method: SnapshotMethod, source?: string): CopySink {
  const { incident, collector, onVerified } = run.input;
  return {
    ...(onVerified ? { onVerified: (copy: VerifiedCopy) => onVerified(verifiedEvidence(method, copy)) } : {}),
    store: run.input.store,
    key: run.keys.binary,
    // Known when the upload starts; the hashes go into the manifest (shared/ledger/layout.ts):
    // the bucket's roles cannot update an object's metadata afterwards.
    metadata: recordMetadata('binary', {
      [META.finding]: incident.findingName,
      [META.findingId]: incident.findingId,
      [META.namespace]: incident.namespace ?? '',
      [META.pod]: incident.pod ?? '',
      [META.container]: incident.container ?? '',
      [META.path]: run.path.read,
      [META.method]: method,
      ...(source === undefined ? {} : { [META.source]: source }),
      [META.trust]: trustOf(method),
      [META.collector]: collector.identity,
      [META.collectorVersion]: collector.version,
      [META.startedAt]: run.startedAt,
    }),
  };
}

function verifiedEvidence(method: SnapshotMethod, copy: VerifiedCopy): VerifiedEvidence {
  const verdict = countsAsEvidence(method, copy.hash, copy.tarDuplicates);
  return { counts: verdict.counts, ...(verdict.because === undefined ? {} : { because: verdict.because }), committed: copy.committed };
}

/** 3. The trusted collector first (when enabled), then the container's own tools. */
async function runMethods(run: Run): Promise<EvidenceResult> {
  const { policy } = run.input;
  const trustedFirst = policy.debugContainer.enabled && policy.debugContainer.preferred !== false;
  let trustedFailure: TrustedFailure | undefined;
  if (trustedFirst) {
    const t = await runTrusted(run);
    if (t.result) return t.result;
    trustedFailure = t.failure;
  }
  const own = await containerTools(run);
  if (own.result) return own.result;
  if (!trustedFirst && policy.debugContainer.enabled) {
    const t = await runTrusted(run);
    if (t.result) return t.result;
    trustedFailure = t.failure;
  }
  return noCopy(run, trustedFailure, own.failures);
}

async function runTrusted(run: Run): Promise<{ result?: EvidenceResult; failure?: TrustedFailure }> {
  const { input } = run;
  const { namespace = '', pod = '', container = '' } = input.incident;
  const t = await collectTrusted({
    incident: input.incident, workloads: input.workloads, store: input.store, keys: run.keys, deadline: run.deadline, budget: run.budget,
    namespace, pod, container, path: run.path.read, podView: run.pod, policy: input.policy,
    sink: (source) => sinkFor(run, 'debug-container', source), attempts: run.attempts, ...(run.prepared ? { prepared: run.prepared } : {}),
  });
  run.trusted = t;
  run.withheld.push(...t.withheld);
  if (t.copy) return { result: await copied(run, t.copy, 'debug-container') };
  if (t.failure && !t.fallback) return { result: failedResult(run, { ...t.failure, ...manualFor(run) }) };
  return t.failure ? { failure: t.failure } : {};
}

interface OwnToolFailure {
  method: SnapshotMethod;
  failure: SnapshotFailure | 'tool-missing';
  reason: string;
  code?: number | string;
  /** Our store held the copy up (not the tool). */
  storeBound?: boolean;
}

/** The container's cat, then its tar when cat is missing. */
async function containerTools(run: Run): Promise<{ result?: EvidenceResult; failures: OwnToolFailure[] }> {
  const { input } = run;
  const deps: CopyDeps = { workloads: input.workloads, namespace: input.incident.namespace ?? '', pod: input.incident.pod ?? '', deadline: run.deadline, budget: run.budget, maxBytes: input.policy.maxBytes, binary: input.incident.binary, timeoutMs: input.policy.timeoutMs };
  const failures: OwnToolFailure[] = [];
  for (const method of ['cat', 'tar'] as const) {
    if (run.deadline.signal.aborted) break;
    const command = method === 'cat' ? ['cat', '--', run.path.read] : ['tar', 'cf', '-', run.path.read];
    const r = await runCopy(deps, { method, container: input.incident.container ?? '', command, ...(method === 'tar' ? { tarMember: tarMemberName(run.path.read) } : {}), sink: sinkFor(run, method) });
    run.attempts.push(r.attempt);
    if (r.kind === 'stored' || r.kind === 'exists') return { result: await copied(run, r, method), failures };
    if (r.kind !== 'failed') continue;
    failures.push({ method, failure: r.failure, reason: r.reason, ...(r.code === undefined ? {} : { code: r.code }), ...(r.storeBound ? { storeBound: true } : {}) });
    if (r.failure !== 'tool-missing') break;
  }
  return { failures };
}

/** Commands a human can run to copy the file when we could not. */
function manualFor(run: Run): { manualCommands?: string[] } {
  const { incident, policy } = run.input;
  const cluster = incident.cluster;
  if (!cluster) return {};
  return { manualCommands: manualDebugCopyCommands({ cluster, namespace: incident.namespace ?? '', pod: incident.pod ?? '', container: incident.container ?? '', path: run.path.read, ...(policy.debugContainer.image ? { image: policy.debugContainer.image } : {}) }) };
}

/** Nothing copied: the most telling failure, and whose doing it was. */
function noCopy(run: Run, trusted: TrustedFailure | undefined, own: OwnToolFailure[]): EvidenceFailed {
  const { policy } = run.input;
  const extra = manualFor(run);
  const last = own[own.length - 1];
  if (last && last.failure !== 'tool-missing') {
    const blame = last.storeBound ? 'ours' : blameOf(last.failure, true, last.code);
    // Ours on the fallback outranks a target-caused failure of the collector, and vice versa.
    return failedResult(run, { failure: last.failure, reason: trusted ? `${last.reason} (trusted collector: ${trusted.reason})` : last.reason, blame: trusted?.blame === 'ours' ? 'ours' : blame, ...(last.code === undefined ? {} : { code: last.code }), ...extra });
  }
  if (trusted) return failedResult(run, { ...trusted, ...(own.length > 0 ? { reason: `${trusted.reason}; the container has neither cat nor tar` } : {}), ...extra });
  const enabled = policy.debugContainer.enabled;
  return failedResult(run, {
    failure: 'no-tools',
    reason: `no copy was made: the image has neither cat nor tar (${own.map((f) => f.reason).join('; ')}), and the trusted collector is ${enabled ? 'enabled but could not read it' : 'off for this rule (snapshot.debugContainer)'}. Copy it by hand with the commands given.`,
    blame: 'target',
    ...extra,
  });
}

/** A copy is in the store (ours, or a concurrent run's): write the manifest or read theirs. */
async function copied(run: Run, r: Extract<CopyResult, { kind: 'stored' | 'exists' }> & { process?: { pid: number; exe: string; cmdline: string[] } }, method: SnapshotMethod): Promise<EvidenceResult> {
  if (r.kind === 'exists') {
    if (!isComplete(r.object)) {
      return failedResult(run, { failure: 'incomplete-object-exists', reason: `an incomplete object is already at ${run.keys.binary} (a write stopped half-way) and create-only storage cannot replace it; remove it by hand to retry`, blame: 'ours' });
    }
    return existsResult(run, r.object, 'another run stored this binary at the same time (it won the create-only race)', true);
  }
  const { input } = run;
  const manifest = buildManifest({
    incident: input.incident, pod: run.pod, keys: run.keys, path: run.path, maxBytes: input.policy.maxBytes, method, debugImage: input.policy.debugContainer.image,
    attempt: r.attempt, hash: r.hash, object: r.object, startedAt: run.startedAt, endedAt: r.endedAt, collector: input.collector, tarDuplicates: r.tarDuplicates,
    ...(r.process ? { process: r.process } : {}), ...(run.trusted?.volatile ? { volatile: run.trusted.volatile } : {}),
  });
  if (!manifest.counts && manifest.doesNotCountBecause) run.withheld.push(`evidence withheld by the target: ${manifest.doesNotCountBecause}`);
  const warnings: string[] = [...run.notes];
  // Returned before they are written (afterStored): their writes start once the loop has polled
  // (shared/common/turn.ts), so the caller's gate and the destructive action go first.
  const records = input.afterStored === undefined ? writeRecords(run, manifest, r.hash.size, warnings) : afterPoll().then(() => writeRecords(run, manifest, r.hash.size, warnings));
  const result: EvidenceStored = { outcome: 'stored', object: r.object, manifestObject: null, manifest, method, trust: trustOf(method), hash: r.hash, warnings, counts: manifest.counts, ...base(run) };
  if (input.afterStored === undefined) {
    result.manifestObject = await records;
    return result;
  }
  run.records = records.then((m) => {
    result.manifestObject = m;
  });
  input.afterStored(run.records);
  return result;
}

/** The manifest and the byte count: two independent create-only writes, made together; never rejects. */
async function writeRecords(run: Run, manifest: EvidenceManifest, size: number, warnings: string[]): Promise<StoredObject | null> {
  const { input } = run;
  const cluster = input.incident.cluster;
  const counted =
    run.budgetCounter && cluster
      ? run.budgetCounter.record({ project: cluster.project, cluster: cluster.name }, input.incident.findingId, size, run.deadline.signal).catch((err: unknown) => {
          warnings.push(`the copy is stored but counting it against the hourly byte budget failed: ${classifyError(err).reason}`);
        })
      : undefined;
  const [manifestObject] = await Promise.all([writeManifest(input.store, run.keys.manifest, manifest, run.deadline, warnings), counted]);
  return manifestObject;
}

async function existsResult(run: Run, object: StoredObject, reason: string, waitForManifest: boolean): Promise<EvidenceResult> {
  const { incident } = run.input;
  const meta = object.metadata;
  if (meta[META.finding] !== undefined && meta[META.finding] !== incident.findingName) {
    return failedResult(run, { failure: 'existing-object-conflict', reason: `the object at ${run.keys.binary} belongs to another finding (${meta[META.finding]}); not reporting it as this finding's evidence`, blame: 'ours' });
  }
  const { manifest, warnings } = await readExistingManifest(run.input.store, run.keys.manifest, run.deadline, waitForManifest);
  if (manifest !== null && manifest.findingName !== incident.findingName) {
    return failedResult(run, { failure: 'existing-object-conflict', reason: `the manifest at ${run.keys.manifest} belongs to another finding (${manifest.findingName})`, blame: 'ours' });
  }
  return { outcome: 'exists', object, manifest, reason, warnings: [...run.notes, ...warnings], ...base(run) };
}
