// Cluster access for `policy backtest --live`, one connection per cluster (cached), chosen the
// way triage chooses it and handed out only as a read-only view (WorkloadReads):
//   kubeconfig (the CLI's default): the context given with --kube-context, used for every
//     cluster it does not name as another; else, per finding's cluster, the kubeconfig context
//     that names that cluster (gcloud's gke_PROJECT_LOCATION_CLUSTER, by the context's or its
//     cluster entry's name; kubeconfig-cluster-directory.ts). No such context: not judged.
//   gke (SCC_RESPONDER_CLUSTER_ACCESS=gke): the GKE cluster directory, as the function uses.
//   none: nothing is judged.
// A cluster that cannot be reached is a reason per finding ("not judged: ..."), never an abort.
import type { ResponderConfig } from '../../shared/config.js';
import type { ClusterRef } from '../../shared/finding/types.js';
import type { ClusterDirectory, WorkloadReads } from '../../shared/ports.js';
import { readOnlyView } from '../../shared/contain/read-only.js';
import { clusterDirectory, kubeconfigFile } from '../composition/adapters.js';

export interface LiveClusters {
  /** Read-only access to the finding's cluster, or the reason there is none. Never rejects. */
  reads(ref: ClusterRef): Promise<WorkloadReads | string>;
  /** Said once on stderr: a --kube-context that does not say which cluster it is serves every cluster. */
  note?: string;
}

const clusterText = (ref: ClusterRef): string => `${ref.project}/${ref.location}/${ref.name}`;

/** The kubeconfig directory for `ref`: --kube-context, else the context naming the cluster. */
type Finder = ((ref: ClusterRef) => Promise<ClusterDirectory | string>) & { note?: string };

async function kubeconfigAccess(file: string, context: string | undefined): Promise<Finder> {
  const { KubeconfigClusterDirectory } = await import('../../shared/kube/kubeconfig-cluster-directory.js');
  if (context !== undefined) {
    const chosen = new KubeconfigClusterDirectory({ kubeconfigPath: file, context });
    const find: Finder = (ref) => Promise.resolve(chosen.refusal(ref) ?? chosen);
    // As triage: the user named it, so it serves any cluster; over many findings that may be wrong, hence the note.
    if (chosen.namedCluster() === undefined) find.note = `kube context "${context}" does not say which cluster it is: every finding's pod is looked up there (narrow the findings with --filter 'resource_name = "//container.googleapis.com/projects/P/locations/L/clusters/C"')`;
    return find;
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const candidates: InstanceType<typeof KubeconfigClusterDirectory>[] = [];
  for (const c of kc.getContexts()) {
    try {
      candidates.push(new KubeconfigClusterDirectory({ kubeconfigPath: file, context: c.name }));
    } catch {
      // A context naming no cluster cannot be any finding's: left out.
    }
  }
  return (ref) => {
    const named = candidates.find((d) => d.contextMatches(ref) === true);
    return Promise.resolve(named ?? `no kube context for cluster ${clusterText(ref)} in ${file} (a context named gke_${ref.project}_${ref.location}_${ref.name}, or --kube-context)`);
  };
}

async function directoryFor(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<Finder | string> {
  if (config.clusterAccess === 'kubeconfig') {
    const file = kubeconfigFile(env);
    if (file === undefined) return 'no kubeconfig found (KUBECONFIG or ~/.kube/config)';
    return kubeconfigAccess(file, config.kubeContext);
  }
  const directory = await clusterDirectory(config, env);
  return typeof directory === 'string' ? directory : () => Promise.resolve(directory);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Per-cluster read-only access, cached: one connection (client) per cluster for the whole run. */
export async function liveClusters(config: ResponderConfig, env: NodeJS.ProcessEnv): Promise<LiveClusters> {
  let find: Awaited<ReturnType<typeof directoryFor>>;
  try {
    find = await directoryFor(config, env);
  } catch (err) {
    find = messageOf(err);
  }
  const cache = new Map<string, Promise<WorkloadReads | string>>();
  const open = async (ref: ClusterRef): Promise<WorkloadReads | string> => {
    if (typeof find === 'string') return find;
    const directory = await find(ref);
    if (typeof directory === 'string') return directory;
    return readOnlyView(await directory.workloads(ref));
  };
  return {
    ...(typeof find !== 'string' && find.note !== undefined ? { note: find.note } : {}),
    reads(ref) {
      const key = ref.resourceName;
      let p = cache.get(key);
      if (p === undefined) {
        p = open(ref).catch((err: unknown) => `no access to cluster ${clusterText(ref)}: ${messageOf(err)}`);
        cache.set(key, p);
      }
      return p;
    },
  };
}
