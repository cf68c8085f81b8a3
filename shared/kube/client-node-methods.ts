// The generated @kubernetes/client-node API methods the adapter calls, per API class. The
// adapter's API fields are typed as Pick<Api, these> (so calling one not listed is a type
// error), and the bundle (scripts/prune-client-node-apis.mjs) keeps only these methods of the
// generated classes: the rest (~1.6 MB of JavaScript V8 would parse on every cold instance)
// is dropped. Plain data only: the build script imports this file with Node's type stripping.
// The collector's pod watch (pod-watch.ts) calls no generated method: it sends its request
// through client-node's HTTP layer (RequestContext, IsomorphicFetchHttpLibrary), which the
// bundle keeps whole.
export const CLIENT_NODE_METHODS = {
  CoreV1Api: [
    'readNamespacedPod',
    'readNode',
    'listNamespacedEvent',
    'listNamespacedPod',
    'deleteNamespacedPod',
    'patchNamespacedPod',
    'patchNamespacedPodEphemeralcontainers',
    'patchNode',
  ],
  AppsV1Api: ['readNamespacedReplicaSet', 'readNamespacedDeployment', 'readNamespacedStatefulSet', 'readNamespacedDaemonSet'],
  BatchV1Api: ['readNamespacedJob', 'readNamespacedCronJob'],
  NetworkingV1Api: ['createNamespacedNetworkPolicy', 'readNamespacedNetworkPolicy', 'deleteNamespacedNetworkPolicy'],
} as const;

export type ClientNodeApi = keyof typeof CLIENT_NODE_METHODS;
