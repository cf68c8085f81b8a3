// What enrichment adds to the report (playbook steps 2-4): cluster, pod and its owner chain,
// node, recent events and summaries of the three log queries. Every part is optional except
// the collections: a failed call leaves its part out and records a failed step instead.
import type { ClusterInfo, ContainerView, KubeEvent, LogEntryView, LogQueryName, NodeView, OwnerView, PodView } from '../ports.js';

export interface AuditActor {
  /** Who, according to the audit log (principalEmail). */
  principal: string;
  /** exec, attach, portforward, debug (ephemeral container), delete, patch, update, create, get, other. */
  action: string;
  /** Kubernetes audit method, e.g. `io.k8s.core.v1.pods.exec.create`. */
  method: string;
  resourceName?: string;
  count: number;
  firstAt?: string;
  lastAt?: string;
}

export interface LogSummary {
  name: LogQueryName;
  /** The filter sent to Cloud Logging (with the timestamp window). */
  filter: string;
  count: number;
  /** True when more entries (or bytes) existed than the caps allowed. */
  truncated: boolean;
  first?: LogEntryView;
  last?: LogEntryView;
  /** The first lines (bounded), for the report. */
  lines: LogEntryView[];
  /** Audit query only: who touched the pod (exec, attach, delete, patch, ...), grouped. */
  actors?: AuditActor[];
}

export interface NodeFacts {
  nodePool?: string;
  zone?: string;
  machineType?: string;
}

export interface EnrichmentData {
  cluster?: ClusterInfo;
  pod?: PodView;
  /** The pod read answered 404: it is already gone. */
  podNotFound?: boolean;
  /** Status of the finding's container in the pod. */
  targetContainer?: ContainerView;
  /** The pod's controller first, then its controller, up to the top one. Empty for a bare pod. */
  owners: OwnerView[];
  /** The top of the chain (or the pod's controller when the chain could not be read). */
  topController?: { kind: string; name: string };
  /** Whether a controller would recreate the pod after deletion; absent when the pod was not read. */
  willBeReplaced?: boolean;
  /** Why we say so, for the reviewer. */
  replacement?: string;
  node?: NodeView;
  nodeFacts?: NodeFacts;
  events?: KubeEvent[];
  logs: Partial<Record<LogQueryName, LogSummary>>;
}
