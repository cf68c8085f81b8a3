// The read-only view of a cluster handed to `policy backtest --live`: an object holding only
// the get/list methods of the adapter, bound to it. The type (ports.ts WorkloadReads) has no
// write method, and neither has the object at run time: a cast back to Workloads would find
// deletePod undefined, not the adapter's.
import type { WorkloadReads, Workloads } from '../ports.js';

export function readOnlyView(w: WorkloadReads | Workloads): WorkloadReads {
  return {
    readPod: (namespace, name, signal) => w.readPod(namespace, name, signal),
    readNode: (name, signal) => w.readNode(name, signal),
    readOwner: (namespace, ref, signal) => w.readOwner(namespace, ref, signal),
    listPodEvents: (namespace, pod, signal) => w.listPodEvents(namespace, pod, signal),
    listPods: (namespace, selector, signal) => w.listPods(namespace, selector, signal),
    readNetworkPolicy: (namespace, name, signal) => w.readNetworkPolicy(namespace, name, signal),
  };
}
