// Parsers for the Google Cloud full resource names a finding carries. Every pattern is
// anchored: a name that does not match exactly is not guessed at.
import type { ClusterRef } from './types.js';

const SEGMENT = '[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}';

// `//container.googleapis.com/projects/P/(locations|zones)/L/clusters/C`, optionally followed
// by a Kubernetes sub-resource path (`/k8s/namespaces/...`) that some findings name.
const CLUSTER = new RegExp(`^//container\\.googleapis\\.com/projects/(${SEGMENT})/(locations|zones)/([a-z0-9-]{1,63})/clusters/(${SEGMENT})(/k8s/.*)?$`);

const INSTANCE = new RegExp(`^//compute\\.googleapis\\.com/projects/(${SEGMENT})/zones/([a-z0-9-]{1,63})/instances/(${SEGMENT})$`);

const PROJECT = /^\/\/cloudresourcemanager\.googleapis\.com\/projects\/([0-9]{1,30})$/;

/** `us-central1-b` (three dash-separated parts) is a zone; `us-central1` is a region. */
export function locationKind(location: string): 'zone' | 'region' {
  return location.split('-').length === 3 ? 'zone' : 'region';
}

/** A GKE cluster reference, or null for anything else (Cloud Run, Compute, ...). */
export function parseClusterResourceName(name: string): ClusterRef | null {
  const m = CLUSTER.exec(name);
  if (!m) return null;
  const [, project, , location, cluster] = m;
  if (project === undefined || location === undefined || cluster === undefined) return null;
  return {
    project,
    location,
    locationKind: locationKind(location),
    name: cluster,
    resourceName: `//container.googleapis.com/projects/${project}/${m[2]}/${location}/clusters/${cluster}`,
  };
}

export interface InstanceRef {
  project: string;
  zone: string;
  /** Bare instance name = Kubernetes node name on GKE. */
  name: string;
}

/** `//compute.googleapis.com/projects/P/zones/Z/instances/I`. */
export function parseInstanceResourceName(name: string): InstanceRef | null {
  const m = INSTANCE.exec(name);
  if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) return null;
  return { project: m[1], zone: m[2], name: m[3] };
}

/** `//cloudresourcemanager.googleapis.com/projects/845127364901` -> `845127364901`. */
export function parseProjectNumber(name: string): string | null {
  return PROJECT.exec(name)?.[1] ?? null;
}
