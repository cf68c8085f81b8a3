# Identities and every grant. Two kinds, kept apart on purpose:
#
# 1. The function's service account gets EXACTLY the roles declared in
#    shared/gcp-permissions.ts (GCP_PERMISSIONS), each at the narrowest scope the API allows.
#    Kubernetes verbs are not granted here: roles/container.clusterViewer only lets the
#    function find and authenticate to a cluster; what it may do inside comes from the
#    ClusterRole in infra/k8s/rbac.yaml. test/integration/infra.test.ts fails on any
#    difference between this file and that list.
# 2. Event-delivery plumbing (INFRA_PLUMBING_GRANTS): the Eventarc trigger identity and
#    Google's service agents. None of it is usable by the function's code.

resource "google_service_account" "responder" {
  account_id   = var.service_account_id
  display_name = "SCC container responder (function runtime)"
  description  = "Runs the scc-responder function: reads clusters and logs, snapshots evidence, contains pods through Kubernetes RBAC, writes SCC marks and results."
  # iam.googleapis.com must be on before a service account can be created on a fresh project.
  depends_on = [google_project_service.apis]
}

resource "google_service_account" "trigger" {
  account_id   = "${var.service_account_id}-trigger"
  display_name = "SCC container responder (Eventarc trigger)"
  description  = "Identity Eventarc uses to push findings to the scc-responder function. Can invoke it and nothing else."
  depends_on   = [google_project_service.apis]
}

# The function's build identity (unless var.build_service_account names one). Projects
# created since July 2024 no longer give the default Cloud Build service account the roles a
# function build needs, so the first apply of a fresh project failed in the build.
resource "google_service_account" "build" {
  count        = var.build_service_account == null ? 1 : 0
  account_id   = "${var.service_account_id}-build"
  display_name = "SCC container responder (function build)"
  description  = "Cloud Build identity that builds the scc-responder function from its source bucket."
  depends_on   = [google_project_service.apis]
}

# ------------------------------------------------------------------ 1. the function's roles

# ClusterDirectory: GKE getCluster + Kubernetes API authentication (no Kubernetes object access).
resource "google_project_iam_member" "responder_cluster_viewer" {
  for_each = local.target_projects
  project  = each.value
  role     = "roles/container.clusterViewer"
  member   = "serviceAccount:${google_service_account.responder.email}"
}

# LogSearch: pod logs, Admin Activity audit logs, node console logs (not Data Access logs).
resource "google_project_iam_member" "responder_logging_viewer" {
  for_each = local.target_projects
  project  = each.value
  role     = "roles/logging.viewer"
  member   = "serviceAccount:${google_service_account.responder.email}"
}

# MarkAuthorLookup: approval mode records who approved a pending action, which only Cloud
# Audit Logs know: the principal of the UpdateSecurityMarks call that set the approval mark.
# That method's permission (securitycenter.findingsecuritymarks.update) is DATA_WRITE, so SCC
# writes it to the Data Access audit log of the finding's parent (the organization), which
# roles/logging.viewer cannot read: Private Logs Viewer is the narrowest predefined role that
# can. It is inherited by every folder and project of the organization, so it also reads their
# Data Access logs; a narrower set-up (a log view on the organization's _Default bucket with
# roles/logging.viewAccessor) is possible but not built. Without it the function still acts on
# an approval and reports that the audit log holds the approver, with a Logs Explorer link.
resource "google_organization_iam_member" "responder_audit_log_viewer" {
  org_id = var.organization_id
  role   = "roles/logging.privateLogViewer"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# Data Access audit logs are off by default: without DATA_WRITE logging for SCC the mark
# change is not logged at all. Opt-in because this resource is authoritative for SCC's audit
# configuration on the organization (it replaces one set elsewhere) and the logs are billed.
resource "google_organization_iam_audit_config" "scc_data_write" {
  count   = var.scc_data_write_audit_logs ? 1 : 0
  org_id  = var.organization_id
  service = "securitycenter.googleapis.com"
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

# AuditLog: the structured audit trail.
resource "google_project_iam_member" "responder_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.responder.email}"
}

# FindingReader: SCC's copy of each finding, read before any cluster call (ListFindings by
# name, GetSource). Findings Viewer: the narrowest predefined role with findings.list and sources.get.
resource "google_organization_iam_member" "responder_findings_viewer" {
  org_id = var.organization_id
  role   = "roles/securitycenter.findingsViewer"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# FindingMarks: security marks on findings (findings belong to the organization).
resource "google_organization_iam_member" "responder_marks_writer" {
  org_id = var.organization_id
  role   = "roles/securitycenter.findingSecurityMarksWriter"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# EvidenceStore: create-only objects (cannot overwrite, delete or update metadata: every
# object's metadata is sent with its create, the copy's hashes ride on the manifest) ...
resource "google_storage_bucket_iam_member" "responder_evidence_creator" {
  bucket = google_storage_bucket.evidence.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# NotifySecrets: read the notification secrets (webhook URLs, routing keys), each one named
# in var.notify_secrets, never the project's other secrets.
resource "google_secret_manager_secret" "notify" {
  for_each  = toset(var.notify_secrets)
  project   = var.project_id
  secret_id = each.value
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "responder_notify_secret_accessor" {
  for_each  = google_secret_manager_secret.notify
  project   = var.project_id
  secret_id = google_secret_manager_secret.notify[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.responder.email}"
}

# ... and stat/read/list of them, on this bucket only.
resource "google_storage_bucket_iam_member" "responder_evidence_viewer" {
  bucket = google_storage_bucket.evidence.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# ResultPublisher: the results topic only.
resource "google_pubsub_topic_iam_member" "responder_results_publisher" {
  topic  = google_pubsub_topic.results.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.responder.email}"
}

# ------------------------------------------------------------------ 2. plumbing

# Eventarc invokes the function's Cloud Run service (authenticated, internal ingress) as the
# trigger identity. (No roles/eventarc.eventReceiver: not needed for direct Pub/Sub events.)
resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.responder.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger.email}"
}

# The Pub/Sub service agent mints the OIDC token of the trigger identity for each push
# (required for agents created on or before 2021-04-08). Scoped to that one account.
resource "google_service_account_iam_member" "pubsub_token_creator" {
  service_account_id = google_service_account.trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${local.pubsub_service_agent}"
  depends_on         = [google_pubsub_topic.findings]
}

# SCC's notification service agent publishes findings.
resource "google_pubsub_topic_iam_member" "scc_publisher" {
  topic  = google_pubsub_topic.findings.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.scc_notification_service_account}"
}

# Pub/Sub forwards undeliverable messages to the dead-letter topic (its subscriber role on the
# Eventarc-managed source subscription is granted by scripts/route-dead-letters.sh).
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.dead_letters.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${local.pubsub_service_agent}"
}

# CMEK (optional): Cloud Storage encrypts evidence with the customer key.
resource "google_kms_crypto_key_iam_member" "evidence_cmek" {
  count         = var.evidence_kms_key_name == null ? 0 : 1
  crypto_key_id = var.evidence_kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${local.storage_service_agent}"
}

# Build: what Cloud Build needs to build the function as the dedicated account (logs, the
# function's Artifact Registry image, build storage), as Google documents for a custom build
# service account ...
resource "google_project_iam_member" "build_builder" {
  count   = var.build_service_account == null ? 1 : 0
  project = var.project_id
  role    = "roles/cloudbuild.builds.builder"
  member  = "serviceAccount:${google_service_account.build[0].email}"
}

# ... and read access to the staged source in our source bucket.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  count  = var.build_service_account == null ? 1 : 0
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build[0].email}"
}

# ------------------------------------------------------------------ 3. who may publish findings

# The findings topic is the responder's trust boundary: whoever can publish to it can forge a
# finding. Allow grants cannot remove publish rights that Owner, Editor or roles/pubsub.* hold,
# so a deny policy on this (dedicated) project denies topics.publish to everyone except the
# three identities that publish here for a reason (shared/gcp-permissions.ts PUBLISH_DENY):
# SCC's notification agent (findings), the function (results) and Pub/Sub's agent (dead
# letters). Deny beats every allow, inherited ones included; changing it needs
# roles/iam.denyAdmin (not part of Owner). The function still confirms every finding with SCC.
resource "google_iam_deny_policy" "findings_publishers" {
  parent       = urlencode("cloudresourcemanager.googleapis.com/projects/${var.project_id}")
  name         = "${var.name_prefix}-publishers"
  display_name = "Only SCC, the responder and Pub/Sub publish in this project"
  rules {
    description = "topics.publish is denied to every principal but SCC's notification agent, the responder and Pub/Sub's agent"
    deny_rule {
      denied_principals  = ["principalSet://goog/public:all"]
      denied_permissions = ["pubsub.googleapis.com/topics.publish"]
      exception_principals = [
        "principal://iam.googleapis.com/projects/-/serviceAccounts/${local.scc_notification_service_account}",
        "principal://iam.googleapis.com/projects/-/serviceAccounts/${google_service_account.responder.email}",
        "principal://iam.googleapis.com/projects/-/serviceAccounts/${local.pubsub_service_agent}",
      ]
    }
  }
}
