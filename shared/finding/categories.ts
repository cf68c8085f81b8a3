// SCC finding categories the responder knows, and the test for "is this finding ours".
// Category strings are exact (SCC's notification filter compares them verbatim) and differ
// in prefix: "Added Binary Executed" has no "Execution:".
import { parseClusterResourceName } from './resource-names.js';

/** The finding this project automates (Container Threat Detection, and Cloud Run Threat Detection). */
export const MODIFIED_MALICIOUS_BINARY_EXECUTED = 'Execution: Modified Malicious Binary Executed';

/** Container Threat Detection categories that name a process in a container (binary, args, pod). */
export const CONTAINER_THREAT_CATEGORIES = [
  'Added Binary Executed',
  'Added Library Loaded',
  'Execution: Added Malicious Binary Executed',
  'Execution: Added Malicious Library Loaded',
  'Execution: Built in Malicious Binary Executed',
  'Execution: Container Escape',
  'Execution: Kubernetes Attack Tool Execution',
  'Execution: Local Reconnaissance Tool Execution',
  'Execution: Malicious Python executed',
  MODIFIED_MALICIOUS_BINARY_EXECUTED,
  'Execution: Modified Malicious Library Loaded',
  'Malicious Script Executed',
  'Malicious URL Observed',
  'Reverse Shell',
  'Unexpected Child Shell',
] as const;

export type ContainerThreatCategory = (typeof CONTAINER_THREAT_CATEGORIES)[number];


/**
 * True when the finding's resource is a GKE cluster. The same category also comes from
 * Cloud Run Threat Detection (`//run.googleapis.com/...`), which has no pod to act on.
 */
export function isGkeFinding(finding: { resourceName: string }): boolean {
  return parseClusterResourceName(finding.resourceName) !== null;
}
