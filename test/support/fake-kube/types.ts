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
}

/** Added: an ephemeral container created through PATCH pods/P/ephemeralcontainers. */
export interface FakeEphemeralContainer {
  name: string;
  image?: string;
  command?: string[];
  targetContainerName?: string;
  /** Becomes true when started: on the next read of the pod ('on-read') or by startEphemeral() ('manual'), unless `ephemeralStartFails`. */
  running: boolean;
  waitingReason?: string;
  /** Set when it started. */
  startedAt?: string;
}

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
  /**
   * Added: when a new ephemeral container starts. 'on-read' (default): the next read of its pod
   * (GET or list) finds it running, so exec before any read is refused as "not running";
   * 'manual': only startEphemeral() starts it.
   */
  ephemeralStart: 'on-read' | 'manual';
  /** Added: start an ephemeral container now (the kubelet's part), honouring `ephemeralStartFails`. */
  startEphemeral(ns: string, pod: string, container: string): void;
  /** Added: when set, ephemeral containers stay waiting with this reason (e.g. 'ImagePullBackOff'). */
  ephemeralStartFails?: string;
  /** Added: the exec subprotocol the server prefers when the client offers both (default v5). */
  execProtocol: 'v5.channel.k8s.io' | 'v4.channel.k8s.io';
  /** Added: how exec of a tool the image lacks fails: 'containerd' (default, InternalError, no exit code) or 'dockershim' (exit code 126). */
  execNotFound: 'containerd' | 'dockershim';
  /** Added: subprotocol negotiated by each exec, in order. */
  execProtocols: string[];
}
