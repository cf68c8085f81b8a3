// ClusterDirectory for local triage: a kubeconfig context (`--kube-context`, default the
// current context). describe() reports the context's server; nothing calls Google.
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterRef } from '../finding/types.js';
import type { ClusterDirectory, ClusterInfo, Workloads } from '../ports.js';
import { ResponderError } from '../common/errors.js';
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
  }

  /**
   * gcloud names contexts `gke_<project>_<location>_<cluster>`: when the context says which
   * cluster it is, it must be the finding's (acting on the wrong cluster is worse than not acting).
   */
  contextMatches(ref: ClusterRef): boolean | undefined {
    const m = /^gke_(.+)_([a-z0-9-]+)_([a-z0-9-]+)$/.exec(this.contextName);
    if (!m) return undefined;
    return m[2] === ref.location && m[3] === ref.name;
  }

  describe(ref: ClusterRef): Promise<ClusterInfo> {
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
    if (this.contextMatches(ref) === false) {
      return Promise.reject(new ResponderError(`kube context "${this.contextName}" is not the finding's cluster ${ref.location}/${ref.name}`, 'permanent'));
    }
    this.cached ??= workloadsFromKubeConfig(this.kubeConfig, this.options.workloadsOptions);
    return Promise.resolve(this.cached);
  }
}

export function kubeconfigClusterDirectory(options?: KubeconfigDirectoryOptions): KubeconfigClusterDirectory {
  return new KubeconfigClusterDirectory(options);
}
