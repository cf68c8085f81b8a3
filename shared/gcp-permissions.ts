// The IAM roles the function's own service account needs, one entry per adapter and reason.
// This is the Google Cloud half of "permissions granted == calls made" (the Kubernetes half
// is shared/kube/api-calls.ts -> infra/k8s/rbac.yaml): the infra test parses infra/*.tf and
// requires the set of (role, scope) pairs granted to the function's service account to EQUAL
// the set below. Adding a Google API call to an adapter means adding its role here, and the
// Terraform grant next to it; a grant without an entry here fails CI.
//
// Plumbing the platform needs to deliver events (Eventarc trigger identity, Pub/Sub and SCC
// service agents) is NOT the function's permission: it is declared separately in
// INFRA_PLUMBING_GRANTS and checked the same way, so neither list can hide in the other.
//
// Pure data: no client library is imported.

/** Where a role is granted. `project` means each project whose clusters/logs the responder reads. */
export type GcpScope = 'project' | 'organization' | 'bucket' | 'topic' | 'secret';

/** The port/adapter (shared/ports.ts) whose calls need the role. */
export type GcpAdapter = 'ClusterDirectory' | 'LogSearch' | 'MarkAuthorLookup' | 'FindingReader' | 'FindingMarks' | 'EvidenceStore' | 'ResultPublisher' | 'AuditLog' | 'NotifySecrets';

export interface GcpRoleGrant {
  role: string;
  scope: GcpScope;
  adapter: GcpAdapter;
  /** Which resource of that scope (for bucket/topic scopes): the Terraform resource it is bound to. */
  resource?: 'evidence-bucket' | 'results-topic' | 'notify-secrets';
  why: string;
}

export const GCP_PERMISSIONS = [
  {
    role: 'roles/container.clusterViewer',
    scope: 'project',
    adapter: 'ClusterDirectory',
    why:
      'GKE getCluster (endpoint, CA, location) and authentication to the Kubernetes API. The role grants only ' +
      'container.clusters.get/list: no Kubernetes object permission, so every Kubernetes verb comes from the ' +
      'ClusterRole in infra/k8s/rbac.yaml (derived from shared/kube/api-calls.ts), never from a project-wide role ' +
      'such as roles/container.developer.',
  },
  {
    role: 'roles/logging.viewer',
    scope: 'project',
    adapter: 'LogSearch',
    why:
      "entries.list for the playbook's three queries: pod logs, the cluster's Admin Activity audit log and node " +
      'console logs. Data Access audit logs would need roles/logging.privateLogViewer; the responder does not read them.',
  },
  {
    role: 'roles/logging.privateLogViewer',
    scope: 'organization',
    adapter: 'MarkAuthorLookup',
    why:
      "approval mode records who approved: entries.list on the finding parent's Data Access audit log for the UpdateSecurityMarks " +
      'call that set the approval mark (shared/gcp/mark-author-lookup.ts). The method is DATA_WRITE, so it is not in the Admin ' +
      'Activity log, and Logs Viewer cannot read Data Access logs: Private Logs Viewer is the narrowest predefined role that can. ' +
      'Findings live under the organization; the role is inherited by its folders and projects. SCC writes these entries only ' +
      'when DATA_WRITE audit logs are enabled for securitycenter.googleapis.com (var.scc_data_write_audit_logs). Without either, ' +
      'the lookup says the audit log holds the approver, with a Logs Explorer link, and approval still works.',
  },
  {
    role: 'roles/securitycenter.findingsViewer',
    scope: 'organization',
    adapter: 'FindingReader',
    why:
      "confirm each finding with SCC before any cluster call (shared/gcp/scc-findings.ts): ListFindings filtered by the finding's " +
      "name (neither API version has GetFinding) needs securitycenter.findings.list, and the source check needs securitycenter.sources.get. " +
      'Findings Viewer is the narrowest predefined role with both: read-only, no mute, state or mark changes (marks have their own ' +
      'writer role), no assets or settings. Granted on the organization because a finding may live under any project of it.',
  },
  {
    role: 'roles/securitycenter.findingSecurityMarksWriter',
    scope: 'organization',
    adapter: 'FindingMarks',
    why: 'updateSecurityMarks on the finding (what was done, evidence URI, hash verdict, handled state). Findings live under the organization.',
  },
  {
    role: 'roles/storage.objectCreator',
    scope: 'bucket',
    resource: 'evidence-bucket',
    adapter: 'EvidenceStore',
    why:
      'create-only evidence, manifest and report objects (ifGenerationMatch: 0). The role cannot overwrite or delete, which is what makes evidence tamper-evident. ' +
      'Nor can it update metadata (no storage.objects.update): every object carries the metadata sent with its create, and what a copy establishes only at its end (hashes, size, truncation, verdict) rides on the manifest, created after the binary.',
  },
  {
    role: 'roles/storage.objectViewer',
    scope: 'bucket',
    resource: 'evidence-bucket',
    adapter: 'EvidenceStore',
    why: 'stat/read/list of our own objects in the evidence bucket: idempotent retries find the evidence already stored, and counters are listed. Bucket-scoped only.',
  },
  {
    role: 'roles/pubsub.publisher',
    scope: 'topic',
    resource: 'results-topic',
    adapter: 'ResultPublisher',
    why: 'publish the triage result to the results topic. Granted on that topic only, not on the project.',
  },
  {
    role: 'roles/secretmanager.secretAccessor',
    scope: 'secret',
    resource: 'notify-secrets',
    adapter: 'NotifySecrets',
    why: "access the latest version of each notification secret (webhook URL, PagerDuty routing key) a policy's notify targets name (var.notify_secrets). Granted on those secrets only, never on the project's others.",
  },
  {
    role: 'roles/logging.logWriter',
    scope: 'project',
    adapter: 'AuditLog',
    why:
      'the audit trail is structured JSON on stdout, which the platform ingests; logWriter lets the same entries go ' +
      'through the Logging API when stdout ingestion is not used.',
  },
] as const satisfies readonly GcpRoleGrant[];

/** The roles granted on the evidence bucket (the GCS fake's IAM check grants exactly these in tests). */
export function evidenceBucketRoles(): string[] {
  return GCP_PERMISSIONS.filter((g) => g.scope === 'bucket' && 'resource' in g && g.resource === 'evidence-bucket').map((g) => g.role);
}

/** Identities other than the function's service account that event delivery needs. */
export type PlumbingMember = 'trigger-service-account' | 'pubsub-service-agent' | 'scc-notification-service-agent' | 'storage-service-agent' | 'build-service-account';

export interface PlumbingGrant {
  role: string;
  /** `service-account` = on the trigger service account itself; `run-service` = on the function's Cloud Run service. */
  scope: 'run-service' | 'service-account' | 'topic' | 'crypto-key' | 'project' | 'bucket';
  member: PlumbingMember;
  resource?: 'findings-topic' | 'dead-letter-topic' | 'evidence-key' | 'source-bucket';
  /** Granted conditionally on this Terraform variable (the resource has a count on it; `why` says which way). */
  onlyWith?: string;
  why: string;
}

export const INFRA_PLUMBING_GRANTS = [
  {
    role: 'roles/run.invoker',
    scope: 'run-service',
    member: 'trigger-service-account',
    why: 'Eventarc pushes each Pub/Sub message to the function (a Cloud Run service with internal ingress, authentication required) with an OIDC token of the trigger identity.',
  },
  {
    role: 'roles/iam.serviceAccountTokenCreator',
    scope: 'service-account',
    member: 'pubsub-service-agent',
    why: 'the Pub/Sub service agent mints those OIDC tokens for the trigger identity (needed when the agent was created on or before 2021-04-08; harmless otherwise). Granted on the trigger service account only.',
  },
  {
    role: 'roles/pubsub.publisher',
    scope: 'topic',
    member: 'scc-notification-service-agent',
    resource: 'findings-topic',
    why: "SCC's notification service agent publishes findings to the findings topic.",
  },
  {
    role: 'roles/pubsub.publisher',
    scope: 'topic',
    member: 'pubsub-service-agent',
    resource: 'dead-letter-topic',
    why: 'Pub/Sub forwards a message to the dead-letter topic after the maximum number of delivery attempts. (Its roles/pubsub.subscriber on the Eventarc-managed subscription is granted by the dead-letter step, see infra/README.md.)',
  },
  {
    role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
    scope: 'crypto-key',
    member: 'storage-service-agent',
    resource: 'evidence-key',
    onlyWith: 'evidence_kms_key_name',
    why: 'optional CMEK: the Cloud Storage service agent encrypts and decrypts evidence objects with the customer key.',
  },
  {
    role: 'roles/cloudbuild.builds.builder',
    scope: 'project',
    member: 'build-service-account',
    onlyWith: 'build_service_account',
    why: 'the dedicated build identity (created when build_service_account is null) builds the function: build logs, the function image in Artifact Registry, build storage. Projects created since July 2024 no longer give the default Cloud Build account these. Never used by the function at run time.',
  },
  {
    role: 'roles/storage.objectViewer',
    scope: 'bucket',
    member: 'build-service-account',
    resource: 'source-bucket',
    onlyWith: 'build_service_account',
    why: 'the build reads the staged function source from the source bucket (that bucket only).',
  },
] as const satisfies readonly PlumbingGrant[];

/**
 * Who may publish to the findings topic: exactly SCC's notification service agent. Anyone
 * else who can publish there (project Owners/Editors, roles/pubsub.*, the deployer) could
 * forge findings. Allow policies cannot take a permission away from a role that has it, so an
 * IAM deny policy on the responder's project denies topics.publish to every principal except
 * the identities that publish there for a reason: SCC's agent (findings), the function (its
 * results topic) and Pub/Sub's agent (dead letters). A deny policy beats every allow grant,
 * inherited ones included, and changing it needs roles/iam.denyAdmin, which Owner does not
 * include. The project must be dedicated to the responder (infra/README.md): nobody else
 * publishes to its topics.
 */
export const PUBLISH_DENY = {
  permission: 'pubsub.googleapis.com/topics.publish',
  deniedPrincipals: ['principalSet://goog/public:all'],
  exceptions: ['scc-notification-service-agent', 'function', 'pubsub-service-agent'] as const,
} as const;

/** `role@scope` (plus `:resource` where given): the comparison key the infra test uses. */
export function grantKey(grant: { role: string; scope: string; resource?: string }): string {
  return `${grant.role}@${grant.scope}${grant.resource ? `:${grant.resource}` : ''}`;
}

export function plumbingKey(grant: { role: string; scope: string; member: string; resource?: string }): string {
  return `${grantKey(grant)}->${grant.member}`;
}
