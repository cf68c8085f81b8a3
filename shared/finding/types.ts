// The typed Incident: everything the playbook's step 1 reads from a finding, plus what the
// later steps need, each field's origin recorded in `provenance`. Built by toIncident().

export type ApiVersion = 'v1' | 'v2';

/** Where a GKE cluster lives, parsed from `//container.googleapis.com/projects/P/(locations|zones)/L/clusters/C`. */
export interface ClusterRef {
  /** Project id or number exactly as it appears in the resource name. */
  project: string;
  location: string;
  /** `zone` for `us-central1-b`, `region` for `us-central1` (gcloud --zone vs --region). */
  locationKind: 'zone' | 'region';
  name: string;
  /** Full resource name, `//container.googleapis.com/...`. */
  resourceName: string;
}

export interface BinaryInfo {
  path: string;
  size?: number;
  /** Lower-case hex SHA-256 as reported by the detector (outside the container). */
  sha256?: string;
  /** When true, `sha256` covers only the first `hashedSize` bytes. */
  partiallyHashed: boolean;
  hashedSize?: number;
  /**
   * Set when `path` must not be used to read a file (NUL byte, not absolute, `..` segment,
   * too long). The path is kept as data for the report; the snapshot step must refuse it.
   */
  pathProblem?: string;
}

/** A value the finding carries that is unusable or contradicts another source. */
export interface IncidentProblem {
  /** Incident field concerned, e.g. `binary.path`, `pod`, `namespace`. */
  field: string;
  /** `invalid`: the value cannot be acted on; `conflict`: sources disagree (the structured value was used). */
  kind: 'invalid' | 'conflict';
  message: string;
}

export interface MitreTechnique {
  /** SCC enum name, e.g. INGRESS_TOOL_TRANSFER. */
  name: string;
  /** ATT&CK id, e.g. T1105, when known. */
  id?: string;
  url?: string;
}

export interface Incident {
  /** Full finding name (the correlation key / operation id). */
  findingName: string;
  canonicalName?: string;
  /** Last path segment of the finding name. */
  findingId: string;
  apiVersion: ApiVersion;
  notificationConfigName?: string;
  category: string;
  state: string;
  severity: string;
  findingClass?: string;
  description?: string;
  eventTime: string;
  createTime?: string;
  resourceName: string;
  /** Null when the resource is not a GKE cluster (e.g. Cloud Run Threat Detection). */
  cluster: ClusterRef | null;
  /** Project id (display name) when known, else what the resource name carries. */
  projectId: string;
  projectNumber?: string;
  namespace?: string;
  pod?: string;
  podLabels: Record<string, string>;
  container?: string;
  imageUri?: string;
  imageId?: string;
  /** Kubernetes node name = bare Compute Engine instance name. */
  node?: string;
  /** `//compute.googleapis.com/projects/P/zones/Z/instances/I` when the finding has it. */
  nodeResourceName?: string;
  nodeZone?: string;
  binary?: BinaryInfo;
  args: string[];
  pid?: string;
  virusTotalUrl?: string;
  mitre: { tactic?: string; techniques: MitreTechnique[]; version?: string; tacticId?: string; tacticUrl?: string };
  /** Environment of the process: names kept, every value replaced by `[REDACTED]`. */
  envVariables: { name: string; val: '[REDACTED]' }[];
  /** Security marks already on the finding (used to skip findings we handled). */
  securityMarks: Record<string, string>;
  securityMarksName?: string;
  /** field name -> origin, e.g. `binary.path` -> `finding.processes[0].binary.path`. */
  provenance: Record<string, string>;
  /** Unusable or contradictory values (hostile path, invalid pod name, sources disagreeing). toIncident() always sets it. */
  problems?: IncidentProblem[];
  /** The finding's `externalUri` (usually the GKE console page of the cluster). */
  externalUri?: string;
  /** Display name of the finding's source, e.g. `Container Threat Detection`. */
  sourceDisplayName?: string;
}
