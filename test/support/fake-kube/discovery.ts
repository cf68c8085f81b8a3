// Discovery as the API server serves it (the legacy, unaggregated form every client falls back
// to): /version, /api, /apis and one APIResourceList per group version, listing only what the
// fake serves, so kubectl maps `pod`, `po`, `deploy`, ... to resources and verbs as it would
// against a real cluster. No OpenAPI document: kubectl's get/exec/cp/delete/label do not need
// one, and /openapi/v2 and /openapi/v3 answer 404 like a server with OpenAPI turned off, so a
// command that did need it would fail here instead of passing against a made-up schema.

type Json = Record<string, unknown>;

const VERBS_RW = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const VERBS_SUB = ['get', 'patch', 'update'];

interface Resource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames?: string[];
  singularName?: string;
  categories?: string[];
}

const res = (name: string, kind: string, namespaced: boolean, verbs: string[], extra: Partial<Resource> = {}): Resource => ({
  name,
  kind,
  namespaced,
  verbs,
  singularName: name.includes('/') ? '' : kind.toLowerCase(),
  ...extra,
});

/** The group versions the fake serves, with the resources (and subresources) of each. */
export const GROUP_VERSIONS: Record<string, Resource[]> = {
  v1: [
    res('events', 'Event', true, VERBS_RW, { shortNames: ['ev'] }),
    res('nodes', 'Node', false, VERBS_RW, { shortNames: ['no'] }),
    res('pods', 'Pod', true, VERBS_RW, { shortNames: ['po'], categories: ['all'] }),
    res('pods/ephemeralcontainers', 'Pod', true, VERBS_SUB),
    res('pods/exec', 'PodExecOptions', true, ['create', 'get']),
    res('pods/status', 'Pod', true, VERBS_SUB),
  ],
  'apps/v1': [
    res('daemonsets', 'DaemonSet', true, VERBS_RW, { shortNames: ['ds'], categories: ['all'] }),
    res('deployments', 'Deployment', true, VERBS_RW, { shortNames: ['deploy'], categories: ['all'] }),
    res('replicasets', 'ReplicaSet', true, VERBS_RW, { shortNames: ['rs'], categories: ['all'] }),
    res('statefulsets', 'StatefulSet', true, VERBS_RW, { shortNames: ['sts'], categories: ['all'] }),
  ],
  'batch/v1': [
    res('cronjobs', 'CronJob', true, VERBS_RW, { shortNames: ['cj'], categories: ['all'] }),
    res('jobs', 'Job', true, VERBS_RW, { categories: ['all'] }),
  ],
  'networking.k8s.io/v1': [res('networkpolicies', 'NetworkPolicy', true, VERBS_RW, { shortNames: ['netpol'] })],
};

export const SERVER_VERSION: Json = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4-gke.1415000',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-05-01T00:00:00Z',
  goVersion: 'go1.23.8',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** The discovery document for `path` (`/api`, `/apis`, `/api/v1`, `/apis/G/V`), or undefined. */
export function discovery(path: string, serverAddress: string): Json | undefined {
  const p = path.replace(/\/+$/, '');
  if (p === '/version') return SERVER_VERSION;
  if (p === '/api') {
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  }
  if (p === '/apis') {
    const groups = Object.keys(GROUP_VERSIONS)
      .filter((gv) => gv.includes('/'))
      .map((gv) => {
        const [name = '', version = ''] = gv.split('/');
        const v = { groupVersion: gv, version };
        return { name, versions: [v], preferredVersion: v };
      });
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  const gv = p === '/api/v1' ? 'v1' : /^\/apis\/([^/]+\/[^/]+)$/.exec(p)?.[1];
  const resources = gv === undefined ? undefined : GROUP_VERSIONS[gv];
  if (gv === undefined || resources === undefined) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv, resources };
}
