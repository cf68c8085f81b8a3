// One copy attempt: exec stdout -> [flood cap] -> [tar member extraction] -> SHA-256 (+ prefix
// hash, size cap) -> commit gate -> EvidenceStore.create (create-only), or, without a sink,
// only hashed (to choose between candidate processes before storing one).
// Nothing is held in memory (backpressure end to end), and the object only becomes complete
// when the exec reported success: a dropped stream, a non-zero exit, a missing tar member, a
// timeout or a store error destroy the gate instead, so the store never finalises a partial copy.
import { Writable } from 'node:stream';
import { classifyError } from '../common/errors.js';
import { nextTurn } from '../common/turn.js';
import type { BinaryInfo } from '../finding/types.js';
import type { EvidenceStore, ExecResult, StoredObject, Workloads } from '../ports.js';
import type { Deadline } from './deadline.js';
import { classifyExecError, classifyExecResult, type ClassifiedExec } from './exec-outcome.js';
import type { ExecBudget } from './exec-text.js';
import { compareWithFinding, HashingTransform, prefixBytesFor } from './hashing.js';
import { CommitGate, finishedWriting, ForwardingSink, writeWithBackpressure } from './streams.js';
import { extractTarMember, type TarMemberExtractor, type TarMemberOutcome } from './tar-member.js';
import type { ExecAttempt, HashReport, SnapshotFailure, SnapshotMethod } from './types.js';

const CAP = Symbol('size cap reached');
const FLOOD = Symbol('exec byte cap reached');

export interface CopyDeps {
  workloads: Workloads;
  namespace: string;
  pod: string;
  deadline: Deadline;
  budget: ExecBudget;
  maxBytes: number;
  binary: BinaryInfo | undefined;
  /** For messages: the snapshot's whole deadline. */
  timeoutMs: number;
}

export interface CopySink {
  store: EvidenceStore;
  key: string;
  /** Fixed at creation: what is known only at the end (hashes) goes into the manifest. */
  metadata: Record<string, string>;
  /**
   * Called once the copy is complete and hashed and its commit has been asked for (the store
   * finalises it now: an fsync, or the upload's last request). Lets containment judge the
   * evidence gate and take its budget slot while the commit runs (respond/stages/snapshot.ts).
   */
  onVerified?: (copy: VerifiedCopy) => void;
  /**
   * Judged once the copy is complete and hashed, before its commit is asked for: a reason
   * drops the copy unstored (the store never finalises it), undefined keeps it.
   */
  keep?: (hash: HashReport) => string | undefined;
}

/** A complete copy whose commit is in flight. */
export interface VerifiedCopy {
  hash: HashReport;
  tarDuplicates: number;
  /** The object once committed; undefined when the commit failed or another writer's object was there first. Never rejects. */
  committed: Promise<StoredObject | undefined>;
}

export interface CopySpec {
  method: SnapshotMethod;
  container: string;
  command: string[];
  /** What is read (`/proc/7/exe`), for the record. */
  source?: string;
  /** Unpack this member from a tar stream. */
  tarMember?: string;
  /** null: hash only, store nothing. */
  sink: CopySink | null;
}

export type CopyResult =
  | { kind: 'stored'; attempt: ExecAttempt; object: StoredObject; hash: HashReport; endedAt: string; tarDuplicates: number }
  | { kind: 'hashed'; attempt: ExecAttempt; hash: HashReport; tarDuplicates: number }
  | { kind: 'exists'; attempt: ExecAttempt; object: StoredObject }
  | { kind: 'failed'; attempt: ExecAttempt; failure: SnapshotFailure | 'tool-missing'; reason: string; code?: number | string; storeBound?: boolean };

type Created = { created: boolean; object: StoredObject };

/** Runs one copy; never throws for expected failures. */
export function runCopy(deps: CopyDeps, spec: CopySpec): Promise<CopyResult> {
  return new CopyAttempt(deps, spec).run();
}

class CopyAttempt {
  private readonly t0 = Date.now();
  private readonly execAbort = new AbortController();
  private readonly hasher: HashingTransform;
  private readonly gate = new CommitGate();
  private readonly stdout: ForwardingSink;
  private tar: TarMemberExtractor | undefined;
  private tarTarget: ForwardingSink | undefined;
  private capped = false;
  private flooded = false;
  private stopped = false; // after this nothing more is fed into the hasher
  private createPromise: Promise<Created> | undefined;
  private storeError: unknown;
  private exec: ExecResult | undefined;
  /** Chunks handed to the hasher/store and not yet taken: the store, not the exec, is slow. */
  private pendingFeeds = 0;
  /** The failure happened while our store held the copy up (a stalled upload), not the tool. */
  private storeBound = false;

  constructor(private readonly deps: CopyDeps, private readonly spec: CopySpec) {
    const prefixBytes = prefixBytesFor(deps.binary);
    this.gate.on('error', () => undefined); // failures are read from the promises
    this.hasher = new HashingTransform({
      maxBytes: deps.maxBytes,
      ...(prefixBytes === undefined ? {} : { prefixBytes }),
      onCap: () => {
        this.capped = true;
        this.execAbort.abort(CAP);
      },
      onFirstChunk: () => this.startCreate(),
    });
    this.hasher.on('error', () => undefined);
    if (spec.sink) this.hasher.pipe(this.gate);
    else this.hasher.pipe(new Writable({ write: (_c, _e, cb) => cb() }));
    const feed = (chunk: Buffer): Promise<void> => {
      if (this.stopped) return Promise.resolve();
      this.pendingFeeds += 1;
      return writeWithBackpressure(this.hasher, chunk).finally(() => {
        this.pendingFeeds -= 1;
      });
    };
    // Every byte exec sends counts against the snapshot's total, members tar skips included.
    const counted = (next: (chunk: Buffer) => Promise<void>) => (chunk: Buffer): Promise<void> => {
      if (!deps.budget.take(chunk.length)) {
        this.flooded = true;
        this.execAbort.abort(FLOOD);
        return Promise.resolve();
      }
      return next(chunk);
    };
    if (spec.tarMember !== undefined) {
      this.tarTarget = new ForwardingSink(feed);
      this.tarTarget.on('error', () => undefined);
      this.tar = extractTarMember(spec.tarMember, this.tarTarget);
      const tarInput = this.tar.input;
      this.stdout = new ForwardingSink(counted((c) => writeWithBackpressure(tarInput, c)));
    } else {
      this.stdout = new ForwardingSink(counted(feed));
    }
    this.stdout.on('error', () => undefined);
  }

  private startCreate(): void {
    const sink = this.spec.sink;
    if (sink === null || this.createPromise !== undefined) return;
    this.createPromise = sink.store.create(sink.key, this.gate, sink.metadata, this.deps.deadline.signal);
    this.createPromise.catch((err: unknown) => {
      this.storeError = err;
      this.execAbort.abort(err); // no point reading on when nothing can be stored
    });
  }

  private attemptOf(outcome: ExecAttempt['outcome'], reason?: string): ExecAttempt {
    return {
      method: this.spec.method,
      container: this.spec.container,
      command: this.spec.command,
      outcome,
      exitCode: this.exec?.exitCode ?? null,
      ...(this.exec?.stderr ? { stderr: this.exec.stderr.slice(0, 2000) } : {}),
      ...(reason === undefined ? {} : { reason }),
      bytes: this.hasher.bytes,
      durationMs: Date.now() - this.t0,
      ...(this.spec.source === undefined ? {} : { source: this.spec.source }),
    };
  }

  /** Throws the copy away: nothing reaches the store as complete. */
  private async fail(c: ClassifiedExec): Promise<CopyResult> {
    this.stopped = true;
    const err = new Error(`snapshot discarded: ${c.reason}`);
    this.tar?.destroy(err);
    this.stdout.destroy();
    this.tarTarget?.destroy();
    this.hasher.unpipe(this.gate);
    this.hasher.destroy();
    this.gate.destroy(err);
    if (this.createPromise) await this.createPromise.then(() => undefined, () => undefined);
    const failure = c.outcome === 'ok' ? 'exec-failed' : c.outcome;
    return { kind: 'failed', attempt: this.attemptOf(failure, c.reason), failure, reason: c.reason, ...(c.code === undefined ? {} : { code: c.code }), ...(this.storeBound ? { storeBound: true } : {}) };
  }

  private classifyFailure(failure: SnapshotFailure, reason: string, err: unknown): ClassifiedExec {
    const c = classifyError(err);
    return { outcome: failure, reason: `${reason}: ${c.reason}`, ...(c.code === undefined ? {} : { code: c.code }) };
  }

  async run(): Promise<CopyResult> {
    const { deadline } = this.deps;
    const onDeadline = (): void => this.execAbort.abort(deadline.signal.reason);
    if (deadline.signal.aborted) onDeadline();
    else deadline.signal.addEventListener('abort', onDeadline, { once: true });
    let execError: unknown;
    try {
      this.exec = await deadline.race(
        this.deps.workloads.exec({ namespace: this.deps.namespace, pod: this.deps.pod, container: this.spec.container, command: this.spec.command, stdout: this.stdout, timeoutMs: deadline.remaining(), signal: this.execAbort.signal }),
      );
    } catch (err) {
      execError = err;
    } finally {
      deadline.signal.removeEventListener('abort', onDeadline);
    }
    try {
      const early = await this.checkExec(execError);
      if (early) return early;
      return await this.finish();
    } catch (err) {
      // A deadline while draining the last bytes, or an unexpected stream error.
      const f: SnapshotFailure = deadline.signal.aborted ? deadline.failure() : 'exec-failed';
      this.storeBound = this.pendingFeeds > 0;
      return this.fail(this.classifyFailure(f, 'finishing the copy failed', err));
    }
  }

  /** The exec's own outcome: a failure result, or undefined when the bytes may be kept. */
  private async checkExec(execError: unknown): Promise<CopyResult | undefined> {
    const { deadline } = this.deps;
    const tool = this.spec.command[0] ?? '';
    if (this.storeError !== undefined && !this.capped) {
      const c = classifyError(this.storeError);
      return this.fail({ outcome: 'store-failed', reason: `writing to ${this.spec.sink?.store.location ?? 'the store'} failed: ${c.reason}`, ...(c.code === undefined ? {} : { code: c.code }) });
    }
    if (this.flooded) {
      return this.fail({ outcome: 'exec-flood', reason: `${tool} sent more than the snapshot's total of ${this.deps.budget.cap} bytes (a flood, not a file); the copy was discarded` });
    }
    if (this.capped) return undefined;
    if (deadline.signal.aborted) {
      const f = deadline.failure();
      this.storeBound = this.pendingFeeds > 0;
      const where = this.storeBound ? `; the evidence store was not taking the bytes (${this.spec.sink?.store.location ?? 'hash'})` : '';
      return this.fail({ outcome: f, reason: f === 'timeout' ? `the copy did not finish within ${this.deps.timeoutMs} ms (${this.hasher.bytes} bytes received${where})` : 'the snapshot was cancelled' });
    }
    if (execError !== undefined) return this.fail(classifyExecError(execError, tool));
    const c = classifyExecResult(this.exec as ExecResult, this.spec.method === 'debug-container' ? 'cat (debug container)' : tool);
    if (c.outcome !== 'ok') {
      if (c.outcome === 'stream-dropped') c.reason = `${c.reason}; ${this.hasher.bytes} bytes had arrived and were discarded`;
      return this.fail(c);
    }
    // Success: every byte the adapter delivered must reach the hasher before we decide.
    this.stdout.end();
    await deadline.race(finishedWriting(this.stdout));
    return this.tar ? this.checkTar() : undefined;
  }

  private tarOutcome: TarMemberOutcome | undefined;

  private async checkTar(): Promise<CopyResult | undefined> {
    const { deadline } = this.deps;
    const tar = this.tar as TarMemberExtractor;
    tar.input.end();
    const member = await deadline.race(tar.done).catch((err: unknown) => err as Error);
    if (member instanceof Error) return this.fail({ outcome: 'stream-dropped', reason: `tar exited 0 but its archive was cut or malformed: ${member.message}` });
    if (!member.found) {
      const path = `/${this.spec.tarMember ?? ''}`;
      const why = member.nonRegular
        ? { outcome: 'not-a-regular-file' as const, reason: `${path} is a ${member.nonRegular.type}${member.nonRegular.linkname ? ` to ${JSON.stringify(member.nonRegular.linkname)}` : ''}, not a regular file; the archive carried no copy of the binary` }
        : { outcome: 'exec-failed' as const, reason: `tar exited 0 but its archive had no member ${JSON.stringify(this.spec.tarMember)} (the container's tar may be lying)` };
      return this.fail(why);
    }
    this.tarOutcome = member;
    // The member's last bytes may still sit in the sink in front of the hasher.
    this.tarTarget?.end();
    if (this.tarTarget) await deadline.race(finishedWriting(this.tarTarget));
    return undefined;
  }

  /** Copy complete (or cut at the cap): finish the hashes, then let the store finalise. */
  private async finish(): Promise<CopyResult> {
    const { deadline } = this.deps;
    this.stopped = true;
    if (this.capped) {
      this.tar?.destroy();
      this.stdout.destroy();
    }
    this.hasher.end();
    await deadline.race(finishedWriting(this.hasher));
    const hash = compareWithFinding(this.hasher.result(), this.deps.binary);
    const endedAt = new Date().toISOString();
    const outcome = hash.truncated ? 'truncated' : 'ok';
    const note = this.capped ? `cut at the size cap of ${this.deps.maxBytes} bytes` : undefined;
    const tarDuplicates = this.tarOutcome?.duplicates ?? 0;
    const sink = this.spec.sink;
    if (sink === null) return { kind: 'hashed', attempt: this.attemptOf(outcome, note), hash, tarDuplicates };
    const refused = sink.keep?.(hash);
    if (refused !== undefined) return this.fail({ outcome: 'aborted', reason: refused });
    this.startCreate(); // an empty file never produced a first chunk
    this.gate.commit();
    const committing = deadline.race(this.createPromise as Promise<Created>);
    sink.onVerified?.({ hash, tarDuplicates, committed: committing.then((c) => (c.created ? c.object : undefined), () => undefined) });
    let stored: Created;
    try {
      stored = await committing;
    } catch (err) {
      const f: SnapshotFailure = deadline.signal.aborted ? deadline.failure() : 'store-failed';
      this.storeBound = true;
      return this.fail(this.classifyFailure(f, `writing to ${sink.store.location} failed`, err));
    }
    if (!stored.created) return { kind: 'exists', attempt: this.attemptOf(outcome, 'another writer created the object first'), object: stored.object };
    // Whoever waited for this commit (the late wave's writes, onVerified) goes first: the
    // snapshot's bookkeeping after it (exec spares closed, manifest built, records started, the
    // step logged) is CPU the DELETE need not wait for. One turn of the event loop.
    if (sink.onVerified) await nextTurn();
    return { kind: 'stored', attempt: this.attemptOf(outcome, note), object: stored.object, hash, endedAt, tarDuplicates };
  }
}
