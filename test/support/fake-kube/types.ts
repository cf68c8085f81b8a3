// Public types of the fake Kubernetes API server (see /tmp/team/FAKE-KUBE.md, the contract
// the evidence and containment tests code against).
import type { FaultPlan } from '../faults.js';

export interface FakeFile {
  /** Either literal content or a deterministic generated stream of `size` bytes (never held in memory). */
  content?: Buffer;
  generated?: { size: number; seed: number };
  /** Default 0o755. */
  mode?: number;
  /** cat/tar fail with "Permission denied". */
  unreadable?: boolean;
}

export type FakeTool = 'cat' | 'tar';

export interface FakeContainerSpec {
  name: string;
  image?: string;
  imageID?: string;
  /** Default true; false -> exec fails like a stopped container. */
  running?: boolean;
  /** Default ['cat','tar']; [] = distroless. */
  tools?: FakeTool[];
  /** Absolute path -> file. */
  files?: Record<string, FakeFile>;
  /** Main process pid as seen by a debug container (default 1). */
  pid?: number;
  /** Added: restart count reported in the container status (default 0). */
  restartCount?: number;
  /**
   * Added (proc.ts): the container's processes as a debug container targeting it sees them.
   * Absent: one process, pid `pid` (default 1), running /usr/local/bin/app as `uid`.
   */
  processes?: FakeProcess[];
  /** Added: uid of the container's processes (default 0) and its securityContext.runAsUser when set. */
  uid?: number;
  /** Added: render `uid` as securityContext.runAsUser in the pod spec (default true when uid is set). */
  runAsUserInSpec?: boolean;
  /** Added: the container's own `cat` prints these bytes whatever it is asked (a lying tool). */
  lyingCat?: Buffer;
  /** Added: members the container's own `tar` sends before the ones asked for (decoys, floods). */
  tarExtra?: { name: string; file: FakeFile }[];
}

/** Added (proc.ts): one process in the target container's pid namespace. */
export interface FakeProcess {
  pid: number;
  ppid?: number;
  /** Default: the container's uid. */
  uid?: number;
  /** The path it was executed from. */
  exe: string;
  /**
   * The executable it runs (the inode). Default: the container's file at `exe` when the pod
   * is added. Removing that file from `files` leaves the process running it: the exe link
   * then reads "<exe> (deleted)", as on Linux.
   */
  exeFile?: FakeFile;
  cmdline?: string[];
  /** Default 'S'. */
  state?: 'R' | 'S' | 'D' | 'Z' | 'T';
  /** Clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTime?: number;
  /** Default true; false as after prctl(PR_SET_DUMPABLE, 0) or a setuid exec. */
  dumpable?: boolean;
  /** Open file descriptors: fd -> link target (`socket:[123]`, `/dev/null`, ...). */
  fds?: Record<number, string>;
  /** Lines of /proc/<pid>/maps. */
  maps?: string[];
  /** Sockets it owns (inode referenced from fds); the pod's net tables list them all. */
  sockets?: FakeSocket[];
}

export interface FakeSocket {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  /** `10.0.0.5:43122` or `[2001:db8::1]:443` */
  local: string;
  remote: string;
  /** Kernel state number (tcp: 1 ESTABLISHED, 10 LISTEN; udp: 7). */
  state: number;
  inode: number;
  uid?: number;
}

/** Added: an ephemeral container created through PATCH pods/P/ephemeralcontainers. */
export interface FakeEphemeralContainer {
  name: string;
  image?: string;
  command?: string[];
  targetContainerName?: string;
  /** Becomes true when started: on the next read of the pod ('next-read') or by startEphemeral() ('manual'), unless `ephemeralStartFails`. */
  running: boolean;
  waitingReason?: string;
  /** Added: set when it started and exited at once (`ephemeralStartExits`): the status shows it terminated. */
  terminated?: { reason: string; exitCode: number; message?: string };
  /** Added (ephemeral.ts): the spec as patched, compared on later patches (a change is 422). */
  spec?: Record<string, unknown>;
  /** Added (proc.ts): uid it runs as (securityContext.runAsUser, else the image default 0). */
  uid?: number;
  /** Added (proc.ts): capabilities added by its securityContext (e.g. SYS_PTRACE). */
  capabilities?: string[];
  /** Set when it started. */
  startedAt?: string;
}

/** Added: Pod Security admission level enforced on a namespace (label pod-security.kubernetes.io/enforce). */
export type FakePodSecurityLevel = 'privileged' | 'baseline' | 'restricted';

export interface FakeOwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface FakePodSpec {
  namespace: string;
  name: string;
  uid?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: FakeOwnerReference[];
  containers: FakeContainerSpec[];
  serviceAccountName?: string;
  phase?: string;
  /** Added (managed by the fake): set once a graceful delete started. */
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  resourceVersion?: string;
  ephemeralContainers?: FakeEphemeralContainer[];
}

export interface FakeNodeSpec {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  unschedulable?: boolean;
  conditions?: { type: string; status: string }[];
  /** Added: spec.providerID (e.g. gce://project/zone/instance). */
  providerID?: string;
  uid?: string;
}

export type FakeOwnerKind = 'ReplicaSet' | 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'Job' | 'CronJob';

export interface FakeOwnerObject {
  namespace: string;
  name: string;
  uid?: string;
  ownerReferences?: unknown[];
  replicas?: number;
  labels?: Record<string, string>;
  selector?: Record<string, string>;
  /** Added (Job): failed pods tolerated before the Job fails and stops replacing them (default 6). */
  backoffLimit?: number;
  /** Added (Job, managed by the fake): pods counted as failed so far (deleted before they finished). */
  failed?: number;
}

export interface FakeEventSpec {
  namespace: string;
  involvedObject: { kind: string; name: string; uid?: string };
  reason: string;
  message: string;
  type?: string;
  count?: number;
  lastTimestamp?: string;
}

export interface StartFakeKubeOptions {
  /** Default true: HTTPS with a self-signed CA. */
  tls?: boolean;
  /** Default random. */
  token?: string;
  /**
   * Each new connection is handed to the server this many ms after it was accepted, so its TCP +
   * TLS set-up costs what network round trips would (benches: 2 x the per-call latency). Default 0:
   * no front listener at all.
   */
  connectLatencyMs?: number;
}

export interface FakeWrite {
  method: string;
  path: string;
  body?: unknown;
  at: number;
  /** Added: the query string (e.g. `gracePeriodSeconds=0`), and the HTTP status answered once known. */
  query?: string;
  status?: number;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: string;
  at: number;
}

export interface FakeKube {
  /** https://127.0.0.1:PORT */
  url: string;
  /** Base64 PEM of the CA (what GKE's clusterCaCertificate looks like). */
  caData: string;
  /** Bearer token the server requires (401 otherwise). */
  token: string;
  /** Keys: `${METHOD} ${path}` for REST, `EXEC ${ns}/${pod}/${container}` for exec streams. */
  faults: FaultPlan;
  /** Every mutating call (DELETE/PATCH/POST), in order. */
  writes: FakeWrite[];
  /** Every call, with timing. */
  requests: FakeRequest[];
  addPod(spec: FakePodSpec): void;
  pod(ns: string, name: string): FakePodSpec | undefined;
  addNode(node: FakeNodeSpec): void;
  addObject(kind: FakeOwnerKind, obj: FakeOwnerObject): void;
  addEvent(ev: FakeEventSpec): void;
  /** Delay before a controller replaces a deleted pod (default 50 ms). */
  replaceAfterMs: number;
  /** A kubeconfig YAML string pointing at this server (context name `fake`). */
  kubeconfigYaml(): string;
  close(): Promise<void>;

  // ---- additions (not in the original contract)
  /** Added: the node as stored (after PATCHes such as cordon). */
  node(name: string): FakeNodeSpec | undefined;
  /** Added: pods in a namespace (after deletes and replacements). */
  pods(ns: string): FakePodSpec[];
  /** Added: created NetworkPolicies, as posted. */
  networkPolicies: Map<string, unknown>;
  /** Added: ms of real time per second of gracePeriodSeconds before a deleting pod disappears (default 1). */
  graceMsPerSecond: number;
  /** Added: ms before an ephemeral container reports running in 'timer' mode (default 20). */
  ephemeralStartMs: number;
  /**
   * Added: when a new ephemeral container starts. 'next-read' (default): the next read of its
   * pod (GET, list, or a watch sending it: the kubelet had the time between two calls) finds
   * it running, so a test never races a timer; 'manual': only
   * startEphemeral() starts it; 'timer': `ephemeralStartMs` after the PATCH.
   */
  ephemeralStart: 'timer' | 'next-read' | 'manual';
  /** Added: watches of pods whose stream is still open (a client that let go closed it). */
  openWatches(): number;
  /**
   * Added: forget the change history up to now (etcd compaction, the watch cache's window
   * moving on): a watch from an older resourceVersion gets an ERROR event with a 410 Expired Status.
   */
  compactWatchHistory(): void;
  /** Added: start an ephemeral container now (the kubelet's part), honouring `ephemeralStartFails`. */
  startEphemeral(ns: string, pod: string, container: string): void;
  /** Added (ephemeral.ts): Pod Security level per namespace (default privileged: no check). */
  podSecurity: Map<string, FakePodSecurityLevel>;
  /** Added: when set, ephemeral containers stay waiting with this reason (e.g. 'ImagePullBackOff'). */
  ephemeralStartFails?: string;
  /**
   * Added: when set, an ephemeral container that starts exits at once and reports terminated
   * with this (e.g. the image has no `sleep`: reason StartError, exit code 128).
   */
  ephemeralStartExits?: { reason: string; exitCode: number; message?: string };
  /** Added: the exec subprotocol the server prefers when the client offers both (default v5). */
  execProtocol: 'v5.channel.k8s.io' | 'v4.channel.k8s.io';
  /** Added: how exec of a tool the image lacks fails: 'containerd' (default, InternalError, no exit code) or 'dockershim' (exit code 126). */
  execNotFound: 'containerd' | 'dockershim';
  /** Added: subprotocol negotiated by each exec, in order. */
  execProtocols: string[];
  /**
   * Added: the TLS connections (opened, closed), the requests on them and the exec upgrades, in
   * the order the server saw them. `seq` is one counter for all of them and mark(), so a test can
   * tell which came first and which request reused which connection.
   */
  connectionLog: FakeConnectionEvent[];
  /** Added: a point in connectionLog's order (returns its seq). */
  mark(): number;
  /** Added: TLS connections currently open on the server side: how many requests each carried, whether one was upgraded. */
  openConnections(): { conn: number; requests: number; upgraded: boolean }[];
  /** Added: connections (connectionLog's `conn`) whose exec upgrade is answered by closing the connection (an idle timeout racing the request). */
  dropUpgradeOn: Set<number>;
  /** Added: destroys the open connections that carried no request and no upgrade (idle ones: an API server's idle timeout). */
  dropIdleConnections(): number;
}

export type FakeConnectionEvent =
  | { kind: 'connection'; seq: number; conn: number }
  /** `requestsBefore`: HTTP requests that arrived on this connection before the upgrade. */
  | { kind: 'upgrade'; seq: number; conn: number; key: string; requestsBefore: number }
  /** An HTTP request (not an upgrade): `key` is `METHOD /path`, with ` (watch)` for a watch. */
  | { kind: 'request'; seq: number; conn: number; key: string }
  | { kind: 'closed'; seq: number; conn: number };
