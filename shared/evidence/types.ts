// What a snapshot produces: the outcome (stored, already there, or failed and why), how the
// bytes were read and how far that tool can be trusted, the hashes and their comparison with
// the finding, and the manifest written next to the binary.
import type { FailureKind } from '../common/errors.js';
import type { StoredObject } from '../ports.js';

/** Which tool read the file. */
export type SnapshotMethod = 'cat' | 'tar' | 'debug-container';

/**
 * `container-tool`: the compromised container's own cat/tar, which the attacker may have
 * replaced; its output is authentic only if the hash matches the finding's.
 * `pinned-debug-image`: cat from a debug container whose image is pinned by digest, reading
 * the kernel's view (/proc/<pid>/exe, /proc/<pid>/root); the tool is ours.
 */
export type ToolTrust = 'container-tool' | 'pinned-debug-image';

/**
 * `matches` / `differs`: the copy's hash compared with the finding's (whole file, or the first
 * `hashedSize` bytes when the finding's hash is partial). `finding-has-no-hash`: nothing to
 * compare with. `truncated`: the copy stopped at the size cap before the compared range ended.
 */
export type HashVerdict = 'matches' | 'differs' | 'finding-has-no-hash' | 'truncated';

export interface HashReport {
  /** SHA-256 (hex) of every byte copied (of the first `maxBytes` when truncated). */
  sha256: string;
  /** Bytes copied. */
  size: number;
  /** True when the copy stopped at the size cap. */
  truncated: boolean;
  /** SHA-256 of the first `bytes` bytes, computed when the finding's hash is partial. */
  prefix?: { bytes: number; sha256: string };
  /** What the finding said. */
  expected: { sha256?: string; partiallyHashed: boolean; hashedSize?: number; size?: number };
  compared: 'whole-file' | 'prefix' | 'none';
  verdict: HashVerdict;
  /**
   * True when the verdict is `differs`: the binary changed again after detection, or the tool
   * that read it lied. Either way it is a finding in itself.
   */
  significant: boolean;
  /** One sentence a reviewer can read. */
  explanation: string;
}

/** Why a snapshot produced no new copy. */
export type SnapshotFailure =
  | 'invalid-target' // the finding names no namespace/pod/container
  | 'invalid-path' // no path, relative, NUL, line break, a directory
  | 'pod-gone' // the pod no longer exists (404)
  | 'container-not-running'
  | 'file-missing'
  | 'permission-denied'
  | 'not-a-regular-file'
  | 'no-tools' // neither cat nor tar in the image (distroless) and no debug container
  | 'exec-forbidden' // 401/403 on pods/exec (RBAC)
  | 'stream-dropped' // the exec stream ended without an exit status
  | 'timeout'
  | 'aborted' // the caller's signal fired
  | 'exec-failed' // another non-zero exit or API error
  | 'debug-container-failed'
  | 'store-failed'
  | 'existing-object-conflict' // an object at our key belongs to another finding
  | 'incomplete-object-exists' // an earlier write stopped half-way and create-only cannot replace it
  | 'binary-gone' // the file is deleted and no running process holds it
  | 'exec-flood' // an exec sent more than the snapshot's total byte cap
  | 'budget-exceeded'; // the cluster's hourly evidence byte budget is used up

/**
 * Who a failure is down to, which decides whether it may hold containment back.
 * `target`: the compromised container caused it (file deleted, tools missing or lying, a tool
 * that hangs, exec refused inside it): recorded as significant, never blocks containment
 * under `requireEvidence: attempted`. `ours`: the store, our RBAC, the API server, our
 * deadline: destructive actions wait (and a transient one asks for redelivery).
 * `none`: nothing to contain anyway (no pod, no target).
 */
export type FailureBlame = 'target' | 'ours' | 'none';

/** One exec tried during the snapshot, in order. */
export interface ExecAttempt {
  method: SnapshotMethod;
  container: string;
  command: string[];
  outcome: 'ok' | 'truncated' | 'tool-missing' | SnapshotFailure;
  exitCode: number | null;
  /** First bytes of stderr (bounded). */
  stderr?: string;
  reason?: string;
  /** Bytes of the file received (for tar: of the member). */
  bytes: number;
  durationMs: number;
  /** What the trusted collector read (`/proc/7/exe`, `/proc/7/root/usr/bin/x`). */
  source?: string;
}

/** The volatile-state artefact stored beside the binary (volatile.json). */
export interface VolatileArtefact {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
  /** Processes seen in the target's pid namespace. */
  processes: number;
  /** Pids of the processes matching the finding. */
  suspects: number[];
  /** Remote endpoints of established connections (`203.0.113.50:443 tcp ESTABLISHED pid 7`), first. */
  remoteEndpoints: string[];
  /** Listening sockets. */
  listening: string[];
  /** What could not be read (permission, size cap). */
  problems: string[];
}

/** The trusted collector's own story, for the report. */
export interface CollectorReport {
  /** The debug container was added and read /proc. */
  used: boolean;
  container?: string;
  image?: string;
  /** Why it was not used, or what stopped it. */
  reason?: string;
  /** uid it ran as and whether it asked for CAP_SYS_PTRACE. */
  runAsUser?: number;
  ptrace?: boolean;
}

export interface EvidenceManifest {
  schema: 'scc-container-responder/evidence-manifest/v1';
  findingName: string;
  findingId: string;
  category: string;
  eventTime: string;
  projectId: string;
  cluster: { project: string; location: string; name: string } | null;
  namespace: string;
  pod: string;
  podUid?: string;
  node?: string;
  container: string;
  containerId?: string;
  image?: string;
  /** Image digest (`imageID` of the container status, else the finding's image id). */
  imageDigest?: string;
  path: { requested: string; read: string };
  size: number;
  truncated: boolean;
  maxBytes: number;
  hashes: { sha256: string; prefix?: { bytes: number; sha256: string } };
  findingHash: HashReport['expected'];
  verdict: HashVerdict;
  significant: boolean;
  explanation: string;
  method: SnapshotMethod;
  trust: ToolTrust;
  tool: { container: string; image?: string; command: string[] };
  collection: { startedAt: string; endedAt: string };
  collector: { identity: string; version: string };
  binary: { key: string; uri: string; generation?: string };
  /** What the trusted collector read (`/proc/7/exe`): absent for the container's own tools. */
  source?: string;
  /** The process the copy came from, when it came from one. */
  process?: { pid: number; exe: string; cmdline: string[] };
  /**
   * False for a copy that is not the evidence: read by the container's own tool and its hash
   * differs, it was cut at the size cap, or tar sent more than one member of that name.
   */
  counts: boolean;
  doesNotCountBecause?: string;
  /** The volatile state stored beside the binary. */
  volatile?: { key: string; sha256: string; bytes: number };
}

interface ResultBase {
  /** Keys used (relative to the store's prefix); absent when the target was invalid. */
  keys?: { binary: string; manifest: string };
  storeLocation: string;
  attempts: ExecAttempt[];
  startedAt: string;
  endedAt: string;
  /** Volatile state (process table, fds, maps, sockets), when the trusted collector ran. */
  volatile?: VolatileArtefact;
  collector?: CollectorReport;
  /**
   * Evidence destroyed or withheld by the target, one sentence each (file deleted, tools
   * missing or lying, a tool that hung, a decoy copy). Significant: report, marks, audit WARNING.
   */
  withheldByTarget: string[];
}

/** A new copy was made (by this run). */
export interface EvidenceStored extends ResultBase {
  outcome: 'stored';
  object: StoredObject;
  manifestObject: StoredObject | null;
  manifest: EvidenceManifest;
  method: SnapshotMethod;
  trust: ToolTrust;
  hash: HashReport;
  /** Non-fatal problems, e.g. the manifest could not be written. */
  warnings: string[];
  /** Whether this copy is the evidence (see EvidenceManifest.counts). */
  counts: boolean;
}

/** A complete copy was already there (earlier delivery, or a concurrent run won the race). */
export interface EvidenceExists extends ResultBase {
  outcome: 'exists';
  object: StoredObject;
  /** The existing manifest; null when it is missing or not yet written by the other run. */
  manifest: EvidenceManifest | null;
  reason: string;
  warnings: string[];
}

export interface EvidenceFailed extends ResultBase {
  outcome: 'failed';
  failure: SnapshotFailure;
  /** Worth retrying (timeouts, dropped streams, store 5xx) or not. */
  kind: FailureKind;
  /** HTTP status or error code when known. */
  code?: number | string;
  reason: string;
  blame: FailureBlame;
  /** For distroless images without the debug-container fallback: commands a human can run. */
  manualCommands?: string[];
}

export type EvidenceResult = EvidenceStored | EvidenceExists | EvidenceFailed;

export interface SnapshotPolicy {
  /** Size cap in bytes; beyond it the copy is stored truncated and marked so. */
  maxBytes: number;
  /** Deadline for the whole snapshot (every exec attempt and the store write). */
  timeoutMs: number;
  debugContainer: {
    /** Off by default: adding an ephemeral container changes the pod (and cannot be undone). */
    enabled: boolean;
    /** Image pinned by digest, e.g. `busybox@sha256:...`; needs `sleep`, `ls`, `head` and `cat`, and `find` with `-mindepth`/`-maxdepth` and `-exec {} +` (BusyBox defconfig has them; without find, /proc is read by pid, one round more). */
    image: string;
    /** Use the debug container first (trusted tool) rather than only when cat/tar are missing. */
    preferred?: boolean;
    /** Also in dry-run rules (a write to the pod that cannot be undone). */
    dryRun?: boolean;
    /** Set when this run may not add it (dry-run): what enforce would do instead, for the report. */
    offReason?: string;
    /** Ask for CAP_SYS_PTRACE when the process cannot be read otherwise (Pod Security "baseline" refuses it). */
    ptrace?: boolean;
  };
  /** Total bytes all execs of one snapshot may send (default 2 x maxBytes + 16 MiB). */
  execByteCap?: number;
  /** Evidence bytes per cluster per hour (counted in the store); absent: no budget. */
  hourlyByteBudget?: number;
}

export interface CollectorInfo {
  /** Who made the copy: service account email, or user@host for the CLI. */
  identity: string;
  version: string;
}
