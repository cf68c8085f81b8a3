// One response reads the target pod, its owners and node from several places at once
// (enrichment, the snapshot's manifest, containment guards). This wrapper makes concurrent and repeated reads
// of the same object within one response share one API call: fewer round trips on the
// critical path and one consistent view of the pod for every step. Writes pass through.
import { OWN_LABEL_PREFIX } from '../contain/labels.js';
import type { NodeView, OwnerView, PodView, Workloads } from '../ports.js';

export function sharedReads(inner: Workloads): Workloads {
  const pods = new Map<string, Promise<PodView>>();
  const nodes = new Map<string, Promise<NodeView>>();
  const owners = new Map<string, Promise<OwnerView>>();
  // Pod lists are cached until a write in their namespace: the pipeline prefetches the
  // controller's pods while the snapshot runs, so deletePod's "pods before the delete" list
  // costs no round trip on the critical path. After a delete in a namespace its lists are
  // never cached again: whoever lists then (the replacement watch polls) is looking for change.
  const lists = new Map<string, Promise<PodView[]>>();
  const liveLists = new Set<string>();
  const forgetLists = (ns: string): void => {
    for (const k of lists.keys()) if (k.startsWith(`${ns}\n`)) lists.delete(k);
  };
  const once = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let p = cache.get(key);
    if (!p) {
      p = load();
      cache.set(key, p);
      // A failed read is not cached: the next caller (e.g. after a transient error) tries again.
      p.catch(() => cache.delete(key));
    }
    return p;
  };
  return {
    readPod: (ns, name, signal) => once(pods, `${ns}/${name}`, () => inner.readPod(ns, name, signal)),
    readNode: (name, signal) => once(nodes, name, () => inner.readNode(name, signal)),
    readOwner: (ns, ref, signal) => once(owners, `${ns}/${ref.apiVersion}/${ref.kind}/${ref.name}`, () => inner.readOwner(ns, ref, signal)),
    listPodEvents: (ns, pod, signal) => inner.listPodEvents(ns, pod, signal),
    listPods: (ns, selector, signal) => (liveLists.has(ns) ? inner.listPods(ns, selector, signal) : once(lists, `${ns}\n${selector}`, () => inner.listPods(ns, selector, signal))),
    exec: (req) => inner.exec(req),
    deletePod: (ns, name, opts, signal) => {
      pods.delete(`${ns}/${name}`);
      forgetLists(ns);
      liveLists.add(ns);
      return inner.deletePod(ns, name, opts, signal);
    },
    patchPodMetadata: (ns, name, patch, signal) => {
      pods.delete(`${ns}/${name}`);
      // Annotations and our own labels (labelPod, quarantinePod) change no pod's membership in
      // a controller's list: keep the prefetched list, or the delete that follows pays a
      // round trip to list again. Any other label may move the pod in or out of a selector.
      if (Object.keys(patch.labels ?? {}).some((k) => !k.startsWith(OWN_LABEL_PREFIX))) forgetLists(ns);
      return inner.patchPodMetadata(ns, name, patch, signal);
    },
    cordonNode: (name, signal) => {
      nodes.delete(name);
      return inner.cordonNode(name, signal);
    },
    createNetworkPolicy: (body, signal) => inner.createNetworkPolicy(body, signal),
    // Undo calls (not used by a response; passed through, dropping what they change from the cache).
    readNetworkPolicy: (ns, name, signal) => inner.readNetworkPolicy(ns, name, signal),
    deleteNetworkPolicy: (ns, name, opts, signal) => inner.deleteNetworkPolicy(ns, name, opts, signal),
    removePodMetadata: (ns, name, patch, signal) => {
      pods.delete(`${ns}/${name}`);
      forgetLists(ns);
      return inner.removePodMetadata(ns, name, patch, signal);
    },
    uncordonNode: (name, signal) => {
      nodes.delete(name);
      return inner.uncordonNode(name, signal);
    },
    addDebugContainer: (spec, signal) => {
      pods.delete(`${spec.namespace}/${spec.pod}`);
      return inner.addDebugContainer(spec, signal);
    },
    collectorDone: () => inner.collectorDone?.(),
    ...(inner.prepareDebugContainer ? { prepareDebugContainer: inner.prepareDebugContainer.bind(inner) } : {}),
  };
}
