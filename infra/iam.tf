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
}

resource "google_service_account" "trigger" {
  account_id   = "${var.service_account_id}-trigger"
  display_name = "SCC container responder (Eventarc trigger)"
  description  = "Identity Eventarc uses to push findings to the scc-responder function. Can invoke it and nothing else."
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

# AuditLog: the structured audit trail.
resource "google_project_iam_member" "responder_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.responder.email}"
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
