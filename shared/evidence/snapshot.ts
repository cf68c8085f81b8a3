// Snapshot: copy the binary named by the finding out of the running container, the way
// `kubectl cp` would, but so that a reviewer can trust the result:
//   exec stdout -> [tar member extraction] -> SHA-256 (+ prefix hash, size cap) -> commit gate
//   -> EvidenceStore.create (create-only)   ... then manifest.json, create-only, next to it.
// Nothing is held in memory (the stream is backpressured end to end), and the object only
// becomes complete when the exec reported success: a dropped stream, a non-zero exit, a
// missing tar member, a timeout or a store error destroy the gate instead, so the store never
// finalises a partial copy.
//
// Methods, in order: the container's own `cat -- PATH`; when the image has no cat, its own
// `tar cf - PATH` unpacked on the fly (one regular member, never touching the filesystem);
// then, only when the policy enables it, `cat -- /proc/1/root/PATH` in an ephemeral debug
// container from a pinned image that targets the container (its pid namespace is shared, so
// pid 1 is the target's main process). With `debugContainer.preferred` the debug container
// goes first. The container's own tools may be the attacker's: only a hash that matches the
// finding makes such a copy authentic, and the manifest records which tool read it.
import { createHash, randomBytes } from 'node:crypto';
import type { Incident } from '../finding/types.js';
import type { EvidenceStore, ExecResult, PodView, StoredObject, Workloads } from '../ports.js';
import { classifyError, TimeoutError } from '../common/errors.js';
import { classifyExecError, classifyExecResult, failureKind, type ClassifiedExec } from './exec-outcome.js';
import { compareWithFinding, HashingTransform, prefixBytesFor } from './hashing.js';
import { copyMetadata, findingKeys, META, type FindingKeys } from '../ledger/layout.js';
import { isComplete, putJson, readRecord, recordMetadata } from '../ledger/json.js';
import { manualDebugCopyCommands } from './manual-command.js';
import { validateBinaryPath } from './path.js';
import { CommitGate, finishedWriting, ForwardingSink, writeWithBackpressure } from './streams.js';
import { extractTarMember, tarMemberName, type TarMemberExtractor } from './tar-member.js';
import type {
  CollectorInfo,
  EvidenceFailed,
  EvidenceManifest,
  EvidenceResult,
  ExecAttempt,
  HashReport,
  SnapshotFailure,
  SnapshotMethod,
  SnapshotPolicy,
  ToolTrust,
} from './types.js';

export interface SnapshotInput {
  incident: Incident;
  workloads: Workloads;
  store: EvidenceStore;
  policy: SnapshotPolicy;
  collector: CollectorInfo;
  signal?: AbortSignal;
  /** The pod as enrichment read it; read here when absent (for UID, container id, image digest). */
  pod?: PodView;
}

export const MANIFEST_SCHEMA = 'scc-container-responder/evidence-manifest/v1' as const;
/** How long a run that lost the create race waits for the winner's manifest. */
const MANIFEST_WAIT_MS = 2000;
/** Debug containers sleep this long: enough to exec into, gone soon after. */
const DEBUG_SLEEP_SECONDS = '600';

const CAP = Symbol('size cap reached');

class Deadline {
  readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly end: number;
  private readonly onOuter: () => void;

  constructor(readonly timeoutMs: number, private readonly outer: AbortSignal | undefined) {
    this.end = Date.now() + timeoutMs;
    this.timer = setTimeout(() => this.controller.abort(new TimeoutError('snapshot', timeoutMs)), timeoutMs);
    this.onOuter = (): void => this.controller.abort(outer?.reason ?? new Error('snapshot aborted'));
    if (outer?.aborted) this.onOuter();
    else outer?.addEventListener('abort', this.onOuter, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remaining(): number {
    return Math.max(1, this.end - Date.now());
  }

  /** Why the deadline fired: our own timeout, or the caller's signal. */
  failure(): SnapshotFailure {
    return this.signal.reason instanceof TimeoutError ? 'timeout' : 'aborted';
  }

  /** Races a promise against the deadline (the promise keeps running, its result is dropped). */
  race<T>(p: Promise<T>): Promise<T> {
    if (this.signal.aborted) {
      p.catch(() => undefined);
      return Promise.reject(this.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(this.signal.reason);
      this.signal.addEventListener('abort', onAbort, { once: true });
      p.then(
        (v) => {
          this.signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          this.signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuter);
  }
}

interface Target {
  namespace: string;
  pod: string;
  container: string;
  path: string;
  requestedPath: string;
  keys: FindingKeys;
}

/** What one exec attempt produced. */
type AttemptResult =
  | { kind: 'stored'; attempt: ExecAttempt; object: StoredObject; hash: HashReport; endedAt: string }
  | { kind: 'exists'; attempt: ExecAttempt; object: StoredObject }
  | { kind: 'failed'; attempt: ExecAttempt; failure: SnapshotFailure | 'tool-missing'; reason: string; code?: number | string };

function isManifest(m: unknown): m is EvidenceManifest {
  return typeof m === 'object' && m !== null && (m as Partial<EvidenceManifest>).schema === MANIFEST_SCHEMA;
}

/**
 * Copies the finding's binary into the evidence store. Never throws for expected failures:
 * the result says what happened (`stored`, `exists`, or `failed` with a reason and whether a
 * retry can help). Only programming errors escape.
 */
export async function snapshotBinary(input: SnapshotInput): Promise<EvidenceResult> {
  const { incident, workloads, store, policy, collector } = input;
  const startedAt = new Date().toISOString();
  const attempts: ExecAttempt[] = [];
  let currentPod: PodView | undefined = input.pod;
  const base = (keys?: FindingKeys): { storeLocation: string; attempts: ExecAttempt[]; startedAt: string; endedAt: string; keys?: { binary: string; manifest: string } } => ({
    storeLocation: store.location,
    attempts,
    startedAt,
    endedAt: new Date().toISOString(),
    ...(keys ? { keys: { binary: keys.binary, manifest: keys.manifest } } : {}),
  });
  const failed = (failure: SnapshotFailure, reason: string, keys?: FindingKeys, extra: { code?: number | string; manualCommands?: string[] } = {}): EvidenceFailed => ({
    outcome: 'failed',
    failure,
    kind: failureKind(failure, extra.code),
    reason,
    ...(extra.code === undefined ? {} : { code: extra.code }),
    ...(extra.manualCommands ? { manualCommands: extra.manualCommands } : {}),
    ...base(keys),
  });

  // 1. What to copy, from where. All of it is finding data: validate before use.
  const { namespace, pod, container, cluster } = incident;
  if (!namespace || !pod || !container) return failed('invalid-target', `the finding names no ${!namespace ? 'namespace' : !pod ? 'pod' : 'container'}, so there is no container to copy from`);
  if (cluster === null) return failed('invalid-target', 'the finding is not about a GKE cluster');
  if (incident.binary?.path === undefined) return failed('invalid-path', 'the finding carries no binary path');
  const checked = validateBinaryPath(incident.binary.path);
  if (!checked.ok) return failed('invalid-path', `${checked.reason}: ${JSON.stringify(checked.requested.slice(0, 200))}`);
  const keys = findingKeys(incident);
  const target: Target = { namespace, pod, container, path: checked.path, requestedPath: checked.requested, keys };

  const deadline = new Deadline(policy.timeoutMs, input.signal);
  try {
    // 2. Already there? (an earlier delivery of the same finding, or a run that crashed later)
    let existing: StoredObject | null;
    try {
      existing = await deadline.race(store.stat(keys.binary, deadline.signal));
    } catch (err) {
      if (deadline.signal.aborted) return failed(deadline.failure(), `checking the evidence store for an existing copy: ${classifyError(err).reason}`, keys);
      const c = classifyError(err);
      return failed('store-failed', `checking the evidence store for an existing copy failed: ${c.reason}`, keys, c.code === undefined ? {} : { code: c.code });
    }
    if (existing !== null) return await existsResult(existing, 'a complete copy of this finding\'s binary is already stored (an earlier delivery of the finding)');

    // 3. The pod: UID, container id and image digest for the manifest; and a clear answer
    //    when the pod is gone or the container stopped, before trying to exec.
    const warnings: string[] = [];
    if (currentPod === undefined) {
      try {
        currentPod = await deadline.race(workloads.readPod(namespace, pod, deadline.signal));
      } catch (err) {
        if (deadline.signal.aborted) return failed(deadline.failure(), `reading pod ${namespace}/${pod}: ${classifyError(err).reason}`, keys);
        const c = classifyError(err);
        if (c.code === 404) return failed('pod-gone', `pod ${namespace}/${pod} no longer exists, so the binary cannot be copied`, keys, { code: 404 });
        warnings.push(`could not read pod ${namespace}/${pod} (${c.reason}); the manifest lacks its UID and image digest`);
      }
    }
    const containerView = currentPod?.containers.find((c) => c.name === container);
    if (currentPod !== undefined && containerView === undefined) {
      return failed('invalid-target', `pod ${namespace}/${pod} has no container named ${JSON.stringify(container)}`, keys);
    }
    if (containerView !== undefined && containerView.state !== 'running' && containerView.state !== 'unknown') {
      return failed('container-not-running', `container ${container} in ${namespace}/${pod} is ${containerView.state}${containerView.stateReason ? ` (${containerView.stateReason})` : ''}: nothing to exec into`, keys);
    }

    // 4. Try the methods in order.
    const methods: SnapshotMethod[] = policy.debugContainer.enabled && policy.debugContainer.preferred === true ? ['debug-container', 'cat', 'tar'] : ['cat', 'tar', ...(policy.debugContainer.enabled ? (['debug-container'] as const) : [])];
    const toolsMissing: string[] = [];
    const manualCommands = manualDebugCopyCommands({ cluster, namespace, pod, container, path: checked.path, ...(policy.debugContainer.image ? { image: policy.debugContainer.image } : {}) });
    for (const method of methods) {
      const r = await attempt(method);
      if (r.kind === 'stored') return await storedResult(r, method, warnings);
      if (r.kind === 'exists') {
        if (!isComplete(r.object)) {
          return failed('incomplete-object-exists', `an incomplete object is already at ${keys.binary} (a write stopped half-way) and create-only storage cannot replace it; remove it by hand to retry`, keys);
        }
        return await existsResult(r.object, 'another run stored this binary at the same time (it won the create-only race)', true);
      }
      if (r.failure === 'tool-missing') {
        toolsMissing.push(r.reason);
        continue;
      }
      // Any other failure is reported as it is (file missing, permission denied, dropped, ...);
      // when the debug container was the last resort, the manual commands come with it.
      return failed(r.failure, r.reason, keys, { ...(r.code === undefined ? {} : { code: r.code }), ...(method === 'debug-container' ? { manualCommands } : {}) });
    }
    return failed(
      'no-tools',
      `no copy was made: the image has neither cat nor tar (${toolsMissing.join('; ')}), and the debug-container fallback is ${policy.debugContainer.enabled ? 'enabled but could not read it' : 'off in the policy (snapshot.debugContainer.enabled)'}. Copy it by hand with the commands given.`,
      keys,
      { manualCommands },
    );
  } finally {
    deadline.dispose();
  }

  // ------------------------------------------------------------------ helpers (closures)

  async function existsResult(object: StoredObject, reason: string, waitForManifest = false): Promise<EvidenceResult> {
    const meta = object.metadata;
    if (meta[META.finding] !== undefined && meta[META.finding] !== incident.findingName) {
      return failed('existing-object-conflict', `the object at ${keys.binary} belongs to another finding (${meta[META.finding]}); not reporting it as this finding's evidence`, keys);
    }
    let manifest: EvidenceManifest | null = null;
    const warnings: string[] = [];
    const until = Date.now() + (waitForManifest ? MANIFEST_WAIT_MS : 0);
    for (;;) {
      try {
        manifest = await readRecord(store, keys.manifest, isManifest, deadline.signal);
      } catch (err) {
        warnings.push(`reading the existing manifest failed: ${classifyError(err).reason}`);
        break;
      }
      if (manifest !== null || Date.now() >= until || deadline.signal.aborted) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (manifest === null && warnings.length === 0) warnings.push('the binary is stored but its manifest.json is missing or not yet written');
    if (manifest !== null && manifest.findingName !== incident.findingName) {
      return failed('existing-object-conflict', `the manifest at ${keys.manifest} belongs to another finding (${manifest.findingName})`, keys);
    }
    return { outcome: 'exists', object, manifest, reason, warnings, ...base(keys) };
  }

  async function storedResult(r: Extract<AttemptResult, { kind: 'stored' }>, method: SnapshotMethod, warnings: string[]): Promise<EvidenceResult> {
    const trust: ToolTrust = method === 'debug-container' ? 'pinned-debug-image' : 'container-tool';
    const cv = podView_();
    const imageDigest = cv?.imageID ?? incident.imageId;
    const image = cv?.image ?? incident.imageUri;
    const manifest: EvidenceManifest = {
      schema: MANIFEST_SCHEMA,
      findingName: incident.findingName,
      findingId: incident.findingId,
      category: incident.category,
      eventTime: incident.eventTime,
      projectId: incident.projectId,
      cluster: incident.cluster ? { project: incident.cluster.project, location: incident.cluster.location, name: incident.cluster.name } : null,
      namespace: target.namespace,
      pod: target.pod,
      ...(podUid_() === undefined ? {} : { podUid: podUid_() as string }),
      ...(podNode_() === undefined && incident.node === undefined ? {} : { node: (podNode_() ?? incident.node) as string }),
      container: target.container,
      ...(cv?.containerID === undefined ? {} : { containerId: cv.containerID }),
      ...(image === undefined ? {} : { image }),
      ...(imageDigest === undefined ? {} : { imageDigest }),
      path: { requested: target.requestedPath, read: target.path },
      size: r.hash.size,
      truncated: r.hash.truncated,
      maxBytes: policy.maxBytes,
      hashes: { sha256: r.hash.sha256, ...(r.hash.prefix ? { prefix: r.hash.prefix } : {}) },
      findingHash: r.hash.expected,
      verdict: r.hash.verdict,
      significant: r.hash.significant,
      explanation: r.hash.explanation,
      method,
      trust,
      tool: { container: r.attempt.container, ...(method === 'debug-container' ? { image: policy.debugContainer.image } : {}), command: r.attempt.command },
      collection: { startedAt, endedAt: r.endedAt },
      collector: { identity: collector.identity, version: collector.version },
      binary: { key: keys.binary, uri: r.object.uri, ...(r.object.generation === undefined ? {} : { generation: r.object.generation }) },
    };
    let manifestObject: StoredObject | null = null;
    try {
      // The copy's hashes ride on the manifest's metadata: the binary's was fixed when its upload began.
      const fields = { [META.finding]: incident.findingName, ...copyMetadata(r.hash), [META.trust]: trust, [META.endedAt]: r.endedAt };
      const m = await deadline.race(putJson(store, keys.manifest, 'manifest', manifest, fields, { pretty: true, signal: deadline.signal }));
      manifestObject = m.object;
      if (!m.created) warnings.push(`a manifest already existed at ${keys.manifest}; it was kept`);
    } catch (err) {
      warnings.push(`the binary is stored but writing manifest.json failed: ${classifyError(err).reason}`);
    }
    return { outcome: 'stored', object: r.object, manifestObject, manifest, method, trust, hash: r.hash, warnings, ...base(keys) };
  }

  function podView_(): PodView['containers'][number] | undefined {
    return currentPod?.containers.find((c) => c.name === target.container);
  }
  function podUid_(): string | undefined {
    return currentPod?.uid;
  }
  function podNode_(): string | undefined {
    return currentPod?.nodeName;
  }

  /** Runs one method: exec (adding the debug container first when needed) streamed into the store. */
  async function attempt(method: SnapshotMethod): Promise<AttemptResult> {
    let execContainer = target.container;
    let command: string[];
    if (method === 'debug-container') {
      const name = `scc-evidence-${createHash('sha256').update(incident.findingName).digest('hex').slice(0, 8)}-${randomBytes(3).toString('hex')}`;
      const t0 = Date.now();
      const debugAttempt = (outcome: ExecAttempt['outcome'], reason: string): ExecAttempt => ({
        method,
        container: name,
        command: ['sleep', DEBUG_SLEEP_SECONDS],
        outcome,
        exitCode: null,
        reason,
        bytes: 0,
        durationMs: Date.now() - t0,
      });
      try {
        await deadline.race(
          workloads.addDebugContainer(
            { namespace: target.namespace, pod: target.pod, name, image: policy.debugContainer.image, targetContainer: target.container, command: ['sleep', DEBUG_SLEEP_SECONDS], timeoutMs: deadline.remaining() },
            deadline.signal,
          ),
        );
      } catch (err) {
        const c = classifyError(err);
        const failure: SnapshotFailure = deadline.signal.aborted ? deadline.failure() : c.code === 401 || c.code === 403 ? 'exec-forbidden' : c.code === 404 ? 'pod-gone' : 'debug-container-failed';
        const reason = `adding the debug container ${name} (${policy.debugContainer.image}) failed: ${c.reason}`;
        attempts.push(debugAttempt(failure, reason));
        return { kind: 'failed', attempt: debugAttempt(failure, reason), failure, reason, ...(c.code === undefined ? {} : { code: c.code }) };
      }
      execContainer = name;
      // pid 1 of the shared process namespace is the target container's main process.
      command = ['cat', '--', `/proc/1/root${target.path}`];
    } else {
      command = method === 'cat' ? ['cat', '--', target.path] : ['tar', 'cf', '-', target.path];
    }
    const r = await streamExec(method, execContainer, command);
    attempts.push(r.attempt);
    return r;
  }

  /** The streaming core: exec stdout -> (tar) -> hash/cap -> gate -> store.create. */
  async function streamExec(method: SnapshotMethod, execContainer: string, command: string[]): Promise<AttemptResult> {
    const t0 = Date.now();
    const tool = command[0] ?? '';
    const execAbort = new AbortController();
    const onDeadline = (): void => execAbort.abort(deadline.signal.reason);
    if (deadline.signal.aborted) onDeadline();
    else deadline.signal.addEventListener('abort', onDeadline, { once: true });

    let capped = false;
    let stopped = false; // after this nothing more is fed into the hasher
    let createPromise: Promise<{ created: boolean; object: StoredObject }> | undefined;
    let storeError: unknown;
    const prefixBytes = prefixBytesFor(incident.binary);
    const gate = new CommitGate();
    gate.on('error', () => undefined); // failures are read from the promises below
    const startCreate = (): void => {
      if (createPromise !== undefined) return;
      // Known when the upload starts; the hashes go into the manifest (shared/ledger/layout.ts).
      const metadata = recordMetadata('binary', {
        [META.finding]: incident.findingName,
        [META.findingId]: incident.findingId,
        [META.namespace]: target.namespace,
        [META.pod]: target.pod,
        [META.container]: target.container,
        [META.path]: target.path,
        [META.method]: method,
        [META.trust]: method === 'debug-container' ? 'pinned-debug-image' : 'container-tool',
        [META.collector]: collector.identity,
        [META.collectorVersion]: collector.version,
        [META.startedAt]: startedAt,
      });
      createPromise = store.create(keys.binary, gate, metadata, deadline.signal);
      createPromise.catch((err: unknown) => {
        storeError = err;
        execAbort.abort(err); // no point reading on when nothing can be stored
      });
    };
    const hasher = new HashingTransform({
      maxBytes: policy.maxBytes,
      ...(prefixBytes === undefined ? {} : { prefixBytes }),
      onCap: () => {
        capped = true;
        execAbort.abort(CAP);
      },
      onFirstChunk: startCreate,
    });
    hasher.on('error', () => undefined);
    hasher.pipe(gate);
    const feed = (chunk: Buffer): Promise<void> => (stopped ? Promise.resolve() : writeWithBackpressure(hasher, chunk));

    let tar: TarMemberExtractor | undefined;
    let tarTarget: ForwardingSink | undefined;
    let stdout: ForwardingSink;
    if (method === 'tar') {
      tarTarget = new ForwardingSink(feed);
      tarTarget.on('error', () => undefined);
      tar = extractTarMember(tarMemberName(target.path), tarTarget);
      stdout = tar.input as ForwardingSink;
    } else {
      stdout = new ForwardingSink(feed);
    }
    stdout.on('error', () => undefined);

    const attemptOf = (outcome: ExecAttempt['outcome'], exec: ExecResult | undefined, reason?: string): ExecAttempt => ({
      method,
      container: execContainer,
      command,
      outcome,
      exitCode: exec?.exitCode ?? null,
      ...(exec?.stderr ? { stderr: exec.stderr.slice(0, 2000) } : {}),
      ...(reason === undefined ? {} : { reason }),
      bytes: hasher.bytes,
      durationMs: Date.now() - t0,
    });

    /** Throws the copy away: nothing reaches the store as complete. */
    const discard = async (why: string): Promise<void> => {
      stopped = true;
      const err = new Error(`snapshot discarded: ${why}`);
      tar?.destroy(err);
      stdout.destroy();
      tarTarget?.destroy();
      hasher.unpipe(gate);
      hasher.destroy();
      gate.destroy(err);
      if (createPromise) await createPromise.then(() => undefined, () => undefined);
    };
    const fail = async (c: ClassifiedExec, exec?: ExecResult): Promise<AttemptResult> => {
      await discard(c.reason);
      const failure = c.outcome === 'ok' ? 'exec-failed' : c.outcome;
      return { kind: 'failed', attempt: attemptOf(failure, exec, c.reason), failure, reason: c.reason, ...(c.code === undefined ? {} : { code: c.code }) };
    };

    let exec: ExecResult | undefined;
    let execError: unknown;
    try {
      exec = await deadline.race(
        workloads.exec({ namespace: target.namespace, pod: target.pod, container: execContainer, command, stdout, timeoutMs: deadline.remaining(), signal: execAbort.signal }),
      );
    } catch (err) {
      execError = err;
    } finally {
      deadline.signal.removeEventListener('abort', onDeadline);
    }

    try {
      if (storeError !== undefined && !capped) {
        const c = classifyError(storeError);
        return await fail({ outcome: 'store-failed', reason: `writing to ${store.location} failed: ${c.reason}`, ...(c.code === undefined ? {} : { code: c.code }) }, exec);
      }
      if (!capped) {
        if (deadline.signal.aborted) {
          const f = deadline.failure();
          return await fail({ outcome: f, reason: f === 'timeout' ? `the copy did not finish within ${policy.timeoutMs} ms (${hasher.bytes} bytes received)` : 'the snapshot was cancelled' }, exec);
        }
        if (execError !== undefined) return await fail(classifyExecError(execError, tool), exec);
        const c = classifyExecResult(exec as ExecResult, method === 'debug-container' ? 'cat (debug container)' : tool);
        if (c.outcome !== 'ok') {
          if (c.outcome === 'stream-dropped') c.reason = `${c.reason}; ${hasher.bytes} bytes had arrived and were discarded`;
          return await fail(c, exec);
        }
        // Success: every byte the adapter delivered must reach the hasher before we decide.
        stdout.end();
        await deadline.race(finishedWriting(stdout));
        if (tar) {
          const member = await deadline.race(tar.done).catch((err: unknown) => err as Error);
          if (member instanceof Error) return await fail({ outcome: 'stream-dropped', reason: `tar exited 0 but its archive was cut or malformed: ${member.message}` }, exec);
          if (!member.found) {
            const why = member.nonRegular
              ? { outcome: 'not-a-regular-file' as const, reason: `${target.path} is a ${member.nonRegular.type}${member.nonRegular.linkname ? ` to ${JSON.stringify(member.nonRegular.linkname)}` : ''}, not a regular file; the archive carried no copy of the binary` }
              : { outcome: 'exec-failed' as const, reason: `tar exited 0 but its archive had no member ${JSON.stringify(tarMemberName(target.path))} (the container's tar may be lying)` };
            return await fail(why, exec);
          }
          // The member's last bytes may still sit in the sink in front of the hasher.
          tarTarget?.end();
          if (tarTarget) await deadline.race(finishedWriting(tarTarget));
        }
      }
      // Copy complete (or cut at the cap): finish the hashes, then let the store finalise.
      stopped = true;
      if (capped) {
        tar?.destroy();
        stdout.destroy();
      }
      hasher.end();
      await deadline.race(finishedWriting(hasher));
      const hash = compareWithFinding(hasher.result(), incident.binary);
      const endedAt = new Date().toISOString();
      startCreate(); // an empty file never produced a first chunk
      gate.commit();
      let stored: { created: boolean; object: StoredObject };
      try {
        stored = await deadline.race(createPromise as Promise<{ created: boolean; object: StoredObject }>);
      } catch (err) {
        const c = classifyError(err);
        const f: SnapshotFailure = deadline.signal.aborted ? deadline.failure() : 'store-failed';
        return await fail({ outcome: f, reason: `writing to ${store.location} failed: ${c.reason}`, ...(c.code === undefined ? {} : { code: c.code }) }, exec);
      }
      const outcome = hash.truncated ? 'truncated' : 'ok';
      if (!stored.created) return { kind: 'exists', attempt: attemptOf(outcome, exec, 'another writer created the object first'), object: stored.object };
      return { kind: 'stored', attempt: attemptOf(outcome, exec, capped ? `cut at the size cap of ${policy.maxBytes} bytes` : undefined), object: stored.object, hash, endedAt };
    } catch (err) {
      // A deadline while draining the last bytes, or an unexpected stream error.
      const c = classifyError(err);
      const f: SnapshotFailure = deadline.signal.aborted ? deadline.failure() : 'exec-failed';
      return fail({ outcome: f, reason: `finishing the copy failed: ${c.reason}`, ...(c.code === undefined ? {} : { code: c.code }) }, exec);
    }
  }
}
