// ClusterDirectory for local triage: a kubeconfig context (`--kube-context`, default the
// current context). describe() reports the context's server; nothing calls Google.
// Acting on the wrong cluster is worse than not acting: a context is used for a finding only
// when its name (or its cluster's) provably names that cluster (gcloud's
// `gke_PROJECT_LOCATION_CLUSTER`, all three equal), or when the user named a context that
// does not say which cluster it is with --kube-context. Otherwise every cluster step is
// skipped with the reason (StepNotApplicable).
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterRef } from '../finding/types.js';
import type { ClusterDirectory, ClusterInfo, Workloads } from '../ports.js';
import { ResponderError } from '../common/errors.js';
import { StepNotApplicable } from '../common/step.js';
import { workloadsFromKubeConfig, type ClientNodeWorkloadsOptions } from './client-node-workloads.js';

export interface KubeconfigDirectoryOptions {
  /** An already loaded kubeconfig; default: KUBECONFIG or ~/.kube/config (loadFromDefault). */
  kubeConfig?: KubeConfig;
  /** A kubeconfig file to load instead of the default. */
  kubeconfigPath?: string;
  /** Context to use (`--kube-context`); default the current context. */
  context?: string;
  workloadsOptions?: ClientNodeWorkloadsOptions;
}

export class KubeconfigClusterDirectory implements ClusterDirectory {
  readonly kubeConfig: KubeConfig;
  readonly contextName: string;
  /** The user named the context (--kube-context) rather than relying on the current one. */
  readonly explicit: boolean;
  private cached: Workloads | undefined;

  constructor(private readonly options: KubeconfigDirectoryOptions = {}) {
    const kc = options.kubeConfig ?? new KubeConfig();
    if (!options.kubeConfig) {
      if (options.kubeconfigPath) kc.loadFromFile(options.kubeconfigPath);
      else kc.loadFromDefault();
    }
    const names = kc.getContexts().map((c) => c.name);
    const wanted = options.context ?? kc.getCurrentContext();
    if (!wanted || !names.includes(wanted)) {
      throw new ResponderError(`kube context ${wanted ? `"${wanted}" ` : ''}not found in the kubeconfig (available: ${names.join(', ') || 'none'})`, 'permanent');
    }
    kc.setCurrentContext(wanted);
    if (!kc.getCurrentCluster()) throw new ResponderError(`kube context "${wanted}" names no cluster`, 'permanent');
    this.kubeConfig = kc;
    this.contextName = wanted;
    this.explicit = options.context !== undefined;
  }

  /** The cluster a gcloud-style name says (`gke_PROJECT_LOCATION_CLUSTER`), from the context or its cluster entry. */
  namedCluster(): { project: string; location: string; name: string } | undefined {
    for (const n of [this.contextName, this.kubeConfig.getCurrentCluster()?.name ?? '']) {
      const m = /^gke_(.+)_([a-z0-9-]+)_([a-z0-9-]+)$/.exec(n);
      if (m) return { project: m[1] as string, location: m[2] as string, name: m[3] as string };
    }
    return undefined;
  }

  /** Whether the context names the finding's cluster: true, false (another cluster), undefined (it does not say). */
  contextMatches(ref: ClusterRef): boolean | undefined {
    const named = this.namedCluster();
    if (!named) return undefined;
    return named.project === ref.project && named.location === ref.location && named.name === ref.name;
  }

  /** Why this context may not be used for the finding's cluster, or undefined when it may. */
  refusal(ref: ClusterRef): string | undefined {
    const want = `${ref.project}/${ref.location}/${ref.name}`;
    const named = this.namedCluster();
    if (named && this.contextMatches(ref) === false) {
      return `kube context "${this.contextName}" names cluster ${named.project}/${named.location}/${named.name}, not the finding's cluster ${want}`;
    }
    if (!named && !this.explicit) {
      return `kube context "${this.contextName}" does not say which cluster it is (not gke_PROJECT_LOCATION_CLUSTER): it is not used for the finding's cluster ${want} unless named with --kube-context`;
    }
    return undefined;
  }

  describe(ref: ClusterRef): Promise<ClusterInfo> {
    const refused = this.refusal(ref);
    if (refused) return Promise.reject(new StepNotApplicable(refused));
    const cluster = this.kubeConfig.getCurrentCluster();
    const info: ClusterInfo = {
      name: ref.name,
      location: ref.location,
      endpoint: cluster?.server ?? '',
      labels: {},
      ownerHints: {},
    };
    if (cluster?.caData) info.caCertificate = cluster.caData;
    return Promise.resolve(info);
  }

  workloads(ref: ClusterRef): Promise<Workloads> {
    const refused = this.refusal(ref);
    if (refused) return Promise.reject(new StepNotApplicable(refused));
    this.cached ??= workloadsFromKubeConfig(this.kubeConfig, this.options.workloadsOptions);
    return Promise.resolve(this.cached);
  }
}

export function kubeconfigClusterDirectory(options?: KubeconfigDirectoryOptions): KubeconfigClusterDirectory {
  return new KubeconfigClusterDirectory(options);
}
