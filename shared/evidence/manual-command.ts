// The commands a human runs to take the copy we could not take automatically (distroless
// image with the debug-container fallback switched off). Every value from the finding is
// shell-quoted: a path like `/tmp/$(reboot)` must stay a path when pasted into a terminal.
import shellQuote from 'shell-quote';
import type { ClusterRef } from '../finding/types.js';

export const DEFAULT_DEBUG_IMAGE_HINT = 'busybox:1.36.1';

export interface ManualCopyTarget {
  cluster: ClusterRef | null;
  namespace: string;
  pod: string;
  container: string;
  /** Normalised absolute path inside the container. */
  path: string;
  /** Debug image (pinned by digest in the policy); a hint is used when the policy has none. */
  image?: string;
}

/**
 * Three commands: credentials for the cluster, an ephemeral debug container that targets the
 * compromised container (shares its process namespace, so its pid 1 is the container's main
 * process), and a copy through /proc/1/root followed by its SHA-256.
 */
export function manualDebugCopyCommands(t: ManualCopyTarget): string[] {
  const q = (argv: string[]): string => shellQuote.quote(argv);
  const commands: string[] = [];
  if (t.cluster !== null) {
    commands.push(q(['gcloud', 'container', 'clusters', 'get-credentials', t.cluster.name, `--${t.cluster.locationKind}`, t.cluster.location, '--project', t.cluster.project]));
  }
  const image = t.image !== undefined && t.image !== '' ? t.image : DEFAULT_DEBUG_IMAGE_HINT;
  commands.push(q(['kubectl', 'debug', '--namespace', t.namespace, t.pod, '--image', image, '--target', t.container, '--container', 'scc-evidence', '--profile', 'general', '--', 'sleep', '600']));
  commands.push(`${q(['kubectl', 'exec', '--namespace', t.namespace, t.pod, '--container', 'scc-evidence', '--', 'cat', '--', `/proc/1/root${t.path}`])} > evidence.bin && sha256sum evidence.bin`);
  return commands;
}
