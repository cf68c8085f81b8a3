// Pod and node annotations are free text that anyone who can edit the object (or its
// Deployment) writes, and tools put whole manifests in them: `kubectl.kubernetes.io/
// last-applied-configuration` carries every env value of the spec. So annotations reach our
// views, and from there reports, audit entries and published results, by ALLOWLIST only:
// keys known to be short, non-secret facts a responder needs. Values are bounded. Pure.

/** Exact keys kept. */
const KEYS: ReadonlySet<string> = new Set([
  'container.googleapis.com/instance_id',
  'cluster-autoscaler.kubernetes.io/safe-to-evict',
  'kubectl.kubernetes.io/default-container',
  'kubectl.kubernetes.io/restartedAt',
  'deployment.kubernetes.io/revision',
  'kubernetes.io/config.source',
  'kubernetes.io/config.seen',
  'kubernetes.io/psp',
  'seccomp.security.alpha.kubernetes.io/pod',
  'node.alpha.kubernetes.io/ttl',
  'volumes.kubernetes.io/controller-managed-attach-detach',
]);

/** Key prefixes kept: our own annotations, AppArmor profiles. */
const PREFIXES: readonly string[] = ['scc-responder/', 'container.apparmor.security.beta.kubernetes.io/'];

export const MAX_ANNOTATION_VALUE = 256;

export function isAllowedAnnotation(key: string): boolean {
  return KEYS.has(key) || PREFIXES.some((p) => key.startsWith(p));
}

/** The allowlisted annotations, each value cut to MAX_ANNOTATION_VALUE characters. */
export function allowedAnnotations(annotations: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (!isAllowedAnnotation(k)) continue;
    const s = String(v);
    out[k] = s.length > MAX_ANNOTATION_VALUE ? `${s.slice(0, MAX_ANNOTATION_VALUE)}...[truncated]` : s;
  }
  return out;
}
