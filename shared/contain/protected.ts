// Namespaces containment never touches when the caller passes no list of its own.
// Used only as the fallback of the protected-namespace guard; the policy file's list
// (with the policy's own defaults) is what the pipeline passes in ActionContext.
export const DEFAULT_PROTECTED_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'gke-managed-*',
  'gke-gmp-system',
  'gmp-system',
  'gmp-public',
  'gke-connect',
  'istio-system',
  'asm-system',
  'config-management-system',
];
