// Ports: the small interfaces through which the pipeline talks to the outside world.
// Pure code depends only on these; adapters (GKE, client-node, Cloud Logging, Cloud Storage,
// SCC, Pub/Sub, local files) implement them and are chosen by the composition root.
import type { Writable } from 'node:stream';
import type { ClusterRef, Incident } from './finding/types.js';

// ---------------------------------------------------------------- cluster + Kubernetes

export interface ClusterInfo {
  name: string;
  location: string;
  /** https endpoint of the control plane (GKE `endpoint`, kubeconfig `server`). */
  endpoint: string;
  /** Which control-plane endpoint `endpoint` is (GKE: shared/gcp/control-plane-endpoint.ts). */
  controlPlaneEndpoint?: 'dns' | 'public-ip' | 'private-ip';
  /** Base64 PEM of the cluster CA to verify the endpoint with (absent for the DNS endpoint: public roots). */
  caCertificate?: string;
  currentMasterVersion?: string;
  status?: string;
  labels: Record<string, string>;
  /** Whether NetworkPolicy is enforced (Calico network policy enabled or Dataplane V2). */
  networkPolicyEnforced?: boolean;
  autopilot?: boolean;
  /** Owner hints gathered from labels such as `owner`, `team`, `contact`. */
  ownerHints: Record<string, string>;
}

/** Finds a cluster and opens Kubernetes access to it. */
export interface ClusterDirectory {
  describe(ref: ClusterRef, signal?: AbortSignal): Promise<ClusterInfo>;
  /** Kubernetes API access for the cluster (cached by the adapter for the credential's life). */
  workloads(ref: ClusterRef, signal?: AbortSignal): Promise<Workloads>;
}

export interface OwnerRef {
  apiVersion?: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

export interface ContainerView {
  name: string;
  image?: string;
  imageID?: string;
  containerID?: string;
  ready?: boolean;
  restartCount?: number;
  state: 'running' | 'waiting' | 'terminated' | 'unknown';
  stateReason?: string;
  startedAt?: string;
  /** securityContext.runAsUser of the container (else of the pod), when the spec sets it. */
  runAsUser?: number;
}

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion?: string;
  phase?: string;
  nodeName?: string;
  serviceAccountName?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences: OwnerRef[];
  containers: ContainerView[];
}

export interface NodeView {
  name: string;
  uid?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** `container.googleapis.com/instance_id` annotation: the Compute Engine instance id. */
  instanceId?: string;
  providerID?: string;
  unschedulable: boolean;
  conditions: { type: string; status: string; reason?: string }[];
}

export interface OwnerView {
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  ownerReferences: OwnerRef[];
  /** Desired replicas when the kind has them. */
  replicas?: number;
  labels: Record<string, string>;
}

export interface KubeEvent {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  source?: string;
}

export interface ExecRequest {
  namespace: string;
  pod: string;
  container: string;
  /** argv: never a shell string. */
  command: string[];
  stdout: Writable;
  /** stderr is collected by the adapter (bounded) and returned in ExecResult. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit code from the status channel; null when the stream ended without a status. */
  exitCode: number | null;
  status: 'Success' | 'Failure' | 'Unknown';
  reason?: string;
  message?: string;
  /** First bytes of stderr (bounded), for telling "no such file" from "permission denied". */
  stderr: string;
}

export interface NetworkPolicyBody {
  name: string;
  namespace: string;
  podSelector: Record<string, string>;
  labels: Record<string, string>;
}

export interface NetworkPolicyView {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  podSelector: Record<string, string>;
}

/** The Kubernetes calls the responder makes. Every verb here is mirrored in infra/k8s/rbac.yaml. */
export interface Workloads {
  readPod(namespace: string, name: string, signal?: AbortSignal): Promise<PodView>;
  readNode(name: string, signal?: AbortSignal): Promise<NodeView>;
  readOwner(namespace: string, ref: OwnerRef, signal?: AbortSignal): Promise<OwnerView>;
  listPodEvents(namespace: string, podName: string, signal?: AbortSignal): Promise<KubeEvent[]>;
  listPods(namespace: string, labelSelector: string, signal?: AbortSignal): Promise<PodView[]>;
  exec(request: ExecRequest): Promise<ExecResult>;
  /** Deletes with a UID precondition. 404 -> 'not-found'; 409 (UID mismatch) throws. */
  deletePod(namespace: string, name: string, options: { uid: string; gracePeriodSeconds?: number }, signal?: AbortSignal): Promise<'deleted' | 'not-found'>;
  /**
   * Merges labels/annotations into the pod's metadata. `uid` is the UID precondition: the
   * merge patch carries it as metadata.uid, which the API server refuses (422) when the name
   * now belongs to another pod.
   */
  patchPodMetadata(namespace: string, name: string, patch: { uid: string; labels?: Record<string, string>; annotations?: Record<string, string> }, signal?: AbortSignal): Promise<void>;
  cordonNode(name: string, signal?: AbortSignal): Promise<void>;
  createNetworkPolicy(body: NetworkPolicyBody, signal?: AbortSignal): Promise<'created' | 'exists'>;
  /** Undo: the NetworkPolicy's identity and labels (to check it is ours); null when it does not exist. */
  readNetworkPolicy(namespace: string, name: string, signal?: AbortSignal): Promise<NetworkPolicyView | null>;
  /** Undo: deletes with a UID precondition. 404 -> 'not-found'; 409 (another object by that name) throws. */
  deleteNetworkPolicy(namespace: string, name: string, options: { uid: string }, signal?: AbortSignal): Promise<'deleted' | 'not-found'>;
  /** Undo: removes these label/annotation keys (merge patch with null), UID precondition as in patchPodMetadata. */
  removePodMetadata(namespace: string, name: string, patch: { uid: string; labels?: readonly string[]; annotations?: readonly string[] }, signal?: AbortSignal): Promise<void>;
  /** Undo: spec.unschedulable = false. */
  uncordonNode(name: string, signal?: AbortSignal): Promise<void>;
  /**
   * Adds an ephemeral debug container (pinned image, targetContainerName set so it shares
   * the target's process namespace) and resolves once it is running. Used by the trusted
   * evidence path that reads `/proc/<pid>/root/<path>`.
   */
  addDebugContainer(spec: DebugContainerSpec, signal?: AbortSignal): Promise<void>;
  /**
   * The collector is about to be added to this pod: starts the wait's watch now (beside the
   * pod read), so neither its request nor a new connection for it is left for the PATCH's
   * moment. Hand the result to addDebugContainer (spec.prepared); close it when no collector is
   * added after all. Optional: adapters without a watch omit it (addDebugContainer opens its own).
   */
  prepareDebugContainer?(target: { namespace: string; pod: string; timeoutMs: number }, signal?: AbortSignal): PreparedDebugContainer;
  /**
   * The trusted collector's execs are over: closes what was held for them (the Kubernetes
   * adapter's pre-connected exec sockets). Optional: adapters that hold nothing omit it.
   */
  collectorDone?(): void;
}

/**
 * The read-only part of Workloads: gets and lists, no method that writes. `policy backtest
 * --live` holds only this (shared/contain/read-only.ts builds it from an adapter), so it
 * cannot write to a cluster even by mistake: the compiler has no write method to offer.
 */
export type WorkloadReads = Pick<Workloads, 'readPod' | 'readNode' | 'readOwner' | 'listPodEvents' | 'listPods' | 'readNetworkPolicy'>;

export interface DebugContainerSpec {
  namespace: string;
  pod: string;
  /** Unique name, e.g. `scc-evidence-<hash>`. */
  name: string;
  /** Image pinned by digest. */
  image: string;
  targetContainer: string;
  /** Long-running command (e.g. ['sleep', '600']) so we can exec into it. */
  command: string[];
  timeoutMs: number;
  /**
   * Its securityContext: the uid to run as (the target's, for the kernel's ptrace rule) and
   * whether to add CAP_SYS_PTRACE. Every other privilege is dropped.
   */
  runAsUser?: number;
  ptrace?: boolean;
  /**
   * The pod's resourceVersion from a read made before the PATCH: the wait for "running"
   * watches the pod from there, so no change in between is missed. Unset: from its current state.
   */
  resourceVersion?: string;
  /** From prepareDebugContainer for this pod: its watch (already open) is the wait's; resourceVersion is then not needed. */
  prepared?: PreparedDebugContainer;
}

/** A watch opened ahead of addDebugContainer (prepareDebugContainer); opaque to the caller. */
export interface PreparedDebugContainer {
  /** Lets go of the watch (idempotent; a no-op once addDebugContainer has taken it over and ended). */
  close(): void;
}

// ---------------------------------------------------------------- logs

export type LogQueryName = 'pod' | 'audit' | 'node';

export interface LogQuery {
  name: LogQueryName;
  /** Cloud Logging filter, including the timestamp window. */
  filter: string;
  /** Resource names to search, e.g. `projects/P`. */
  resourceNames: string[];
  maxEntries: number;
  maxBytes: number;
}

export interface LogEntryView {
  timestamp?: string;
  severity?: string;
  logName?: string;
  /** One-line rendering of the payload (textPayload, jsonPayload.message, or audit method). */
  text: string;
  /** Audit entries: who did it and what. */
  principal?: string;
  method?: string;
  resourceName?: string;
}

export interface LogSearch {
  search(query: LogQuery, signal?: AbortSignal): Promise<{ entries: LogEntryView[]; truncated: boolean }>;
}

export interface MarkAuthorRequest {
  /** The finding, v1 or v2 name (validated before it reaches a filter). */
  findingName: string;
  /** e.g. `scc_responder_approval`. */
  markKey: string;
  /** e.g. `approve:<runId>`. */
  markValue: string;
  /** Earliest time the mark can have been set (ISO or Date): when the run went pending. */
  since: string | Date;
  signal?: AbortSignal;
}

/** Who set the mark, per the Data Access audit log's UpdateSecurityMarks entry (a DATA_WRITE method). */
export interface MarkAuthorFound {
  /** `protoPayload.authenticationInfo.principalEmail`. */
  principal: string;
  /** True when the principal is a service account (automation, not a person). */
  serviceAccount: boolean;
  /** The entry's timestamp. */
  at: string;
  logName?: string;
  /** Logs Explorer running the same query (for the report, whoever approved). */
  logsExplorerUrl: string;
}

/** The audit log could not tell (not found, not readable, too slow): why, and where to look. */
export interface MarkAuthorUnknown {
  principal: undefined;
  reason: string;
  /** Absent only when the request itself was invalid (no query could be built). */
  logsExplorerUrl?: string;
}

export type MarkAuthor = MarkAuthorFound | MarkAuthorUnknown;

/** Never rejects: every failure is a MarkAuthorUnknown with its reason. */
export interface MarkAuthorLookup {
  findMarkAuthor(request: MarkAuthorRequest): Promise<MarkAuthor>;
}

// ---------------------------------------------------------------- evidence

export interface StoredObject {
  /** gs://bucket/key or file:///abs/path */
  uri: string;
  key: string;
  size: number;
  /** Store generation (GCS) or mtime-based id (local). */
  generation?: string;
  metadata: Record<string, string>;
}

export interface CreateOptions {
  /** Default `application/octet-stream`. */
  contentType?: string;
}

/**
 * The four primitives a backend implements (shared/ledger/local-store.ts, shared/gcp/gcs-store.ts);
 * the layout and the record protocol on top of them are shared/ledger/. An object's metadata
 * is fixed when it is created: there is no update (the deployed roles cannot update either).
 */
export interface EvidenceStore {
  /** Human-readable location, e.g. `gs://bucket/prefix` or `/var/evidence`. */
  readonly location: string;
  /** Returns the object when it exists and is complete (has its metadata), else null. */
  stat(key: string, signal?: AbortSignal): Promise<StoredObject | null>;
  /**
   * Writes a new object from a stream, create-only. Resolves 'exists' (with the existing
   * object) when another writer got there first. A failed or aborted write leaves nothing
   * that `stat` reports as complete.
   */
  create(key: string, body: NodeJS.ReadableStream, metadata: Record<string, string>, signal?: AbortSignal, options?: CreateOptions): Promise<{ created: boolean; object: StoredObject }>;
  /** Reads a small object (manifests, reports, counters). */
  readText(key: string, signal?: AbortSignal): Promise<string | null>;
  /** Keys under a prefix (used for shared counters such as the blast-radius limit). */
  list(prefix: string, signal?: AbortSignal): Promise<string[]>;
  /**
   * The same keys a page at a time, in no particular order, for walks of the whole store
   * (`scc-responder approvals`): memory bounded by a page, not by the store. Optional: a
   * backend without it is walked through list() (shared/ledger/json.ts storeKeys()).
   */
  listPages?(prefix: string, signal?: AbortSignal): AsyncIterable<string[]>;
}

// ---------------------------------------------------------------- record

export interface FindingMarks {
  /** Sets exactly these mark keys (update mask `marks.<key>`), leaving others untouched. */
  update(incident: Incident, marks: Record<string, string>, signal?: AbortSignal): Promise<void>;
  /** Loads what the first write needs (a lazily imported client), so no write's deadline pays for it. */
  ready?(): Promise<void>;
}

export interface ResultPublisher {
  publish(payload: Buffer, attributes: Record<string, string>, orderingKey: string, signal?: AbortSignal): Promise<string>;
  /** Loads what the first publish needs (a lazily imported client), so no publish's deadline pays for it. */
  ready?(): Promise<void>;
}

// ---------------------------------------------------------------- confirmation

/** SCC's own copy of a finding, in the NotificationMessage's JSON shape (camelCase, RFC 3339 times). */
export interface SccFindingCopy {
  /** `{ finding, resource }`, ready for toIncident(); `finding.mute` and `finding.parent` as SCC has them. */
  notification: { finding: Record<string, unknown>; resource?: Record<string, unknown> };
}

export interface SccSource {
  name: string;
  displayName: string;
}

/** Reads findings and sources from SCC (the source of truth the message is checked against). */
export interface FindingReader {
  /** The finding by its full name (v1 or v2); null when SCC has no such finding. */
  getFinding(findingName: string, signal?: AbortSignal): Promise<SccFindingCopy | null>;
  /** The source by name (`organizations/O/sources/S`); null when unknown. Cached per instance. */
  getSource(sourceName: string, signal?: AbortSignal): Promise<SccSource | null>;
}

// ---------------------------------------------------------------- notify

/** Where notification secrets (webhook URLs, PagerDuty routing keys) come from. */
export interface NotifySecrets {
  /** The secret's value; rejects (without the value in the message) when it is missing. */
  read(name: string, signal?: AbortSignal): Promise<string>;
}

export interface WebhookResponse {
  status: number;
  /** The start of the answer (at most a few KiB). */
  body: string;
}

export interface WebhookPoster {
  /** POSTs JSON; rejects on a non-2xx status. `what` names the channel in errors (never the URL). */
  postJson(url: URL, body: unknown, what: string, signal: AbortSignal): Promise<WebhookResponse>;
}
