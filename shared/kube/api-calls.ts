// The single source of truth for every Kubernetes API call the responder can make.
// The client-node adapter routes each call through this table (so a call cannot exist
// without an entry), and the infra test derives the RBAC ClusterRole in infra/k8s/rbac.yaml
// from it: permissions granted == calls made, with no second hand-kept list.

export type KubeVerb = 'get' | 'list' | 'watch' | 'create' | 'delete' | 'patch' | 'update';

export interface KubeApiCall {
  /** API group ('' for core). */
  group: string;
  /** Resource, with subresource where relevant (`pods/exec`, `pods/ephemeralcontainers`). */
  resource: string;
  verbs: readonly KubeVerb[];
  /** Needed only when a policy feature is switched on (RBAC grants it in a separate, optional role). */
  feature?: 'debugContainer';
  why: string;
}

export const KUBE_API_CALLS = {
  readPod: [{ group: '', resource: 'pods', verbs: ['get'], why: 'pod metadata, owner, container status' }],
  listPods: [{ group: '', resource: 'pods', verbs: ['list'], why: 'observe the replacement after a delete' }],
  readNode: [{ group: '', resource: 'nodes', verbs: ['get'], why: 'node labels, conditions, instance_id annotation' }],
  readOwner: [
    { group: 'apps', resource: 'replicasets', verbs: ['get'], why: 'owner chain' },
    { group: 'apps', resource: 'deployments', verbs: ['get'], why: 'owner chain' },
    { group: 'apps', resource: 'statefulsets', verbs: ['get'], why: 'owner chain' },
    { group: 'apps', resource: 'daemonsets', verbs: ['get'], why: 'owner chain' },
    { group: 'batch', resource: 'jobs', verbs: ['get'], why: 'owner chain' },
    { group: 'batch', resource: 'cronjobs', verbs: ['get'], why: 'owner chain' },
  ],
  listPodEvents: [{ group: '', resource: 'events', verbs: ['list'], why: 'recent events for the pod' }],
  // WebSocket exec is authorised as `get` on pods/exec; Kubernetes 1.35 also checks `create`.
  exec: [{ group: '', resource: 'pods/exec', verbs: ['get', 'create'], why: 'copy the binary out (cat/tar)' }],
  deletePod: [{ group: '', resource: 'pods', verbs: ['delete'], why: 'containment: delete the pod (UID precondition)' }],
  patchPodMetadata: [{ group: '', resource: 'pods', verbs: ['patch'], why: 'label/annotate/quarantine the pod' }],
  cordonNode: [{ group: '', resource: 'nodes', verbs: ['patch'], why: 'containment: cordon the node' }],
  createNetworkPolicy: [{ group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['create'], why: 'quarantine: deny-all policy' }],
  // undo (CLI `scc-responder undo`): read what we created, check it is ours, revert it.
  readNetworkPolicy: [{ group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['get'], why: 'undo: check the quarantine policy is ours' }],
  deleteNetworkPolicy: [{ group: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['delete'], why: 'undo: remove our quarantine policy (UID precondition)' }],
  removePodMetadata: [{ group: '', resource: 'pods', verbs: ['patch'], why: 'undo: remove our labels/annotations (UID precondition)' }],
  uncordonNode: [{ group: '', resource: 'nodes', verbs: ['patch'], why: 'undo: uncordon the node we cordoned' }],
  // The trusted evidence collector runs for every enforce rule by default (snapshot.debugContainer).
  addDebugContainer: [{ group: '', resource: 'pods/ephemeralcontainers', verbs: ['patch'], why: 'trusted evidence collector: volatile state and the binary through /proc/<pid>' }],
  // Opened beside that PATCH: the collector's "running" arrives as an event instead of a read
  // after the PATCH (one round trip less before the first exec). Without it (an RBAC from
  // before this row) the adapter falls back to reading the pod.
  watchPod: [{ group: '', resource: 'pods', verbs: ['watch'], why: 'trusted evidence collector: learn the moment it runs (one pod, by field selector)' }],
} as const satisfies Record<string, readonly KubeApiCall[]>;

export type KubeCallName = keyof typeof KUBE_API_CALLS;
