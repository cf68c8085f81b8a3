# Shared values and the APIs the deployment needs. Resources live in files by concern:
# pubsub.tf (topics, dead letters), function.tf (the Cloud Function and its source),
# iam.tf (service accounts and every grant), bucket.tf (evidence), scc.tf (notification
# config), monitoring.tf (log-based metrics, alert), outputs.tf.

data "google_project" "this" {
  project_id = var.project_id
}

# The Cloud Storage service agent exists only after the project first uses it; this data
# source asks Cloud Storage for it, which creates it, so the CMEK grant (iam.tf) never names
# an account that does not exist yet.
data "google_storage_project_service_account" "this" {
  project = var.project_id
}

locals {
  labels = merge({ app = "scc-container-responder" }, var.labels)

  target_projects = toset(length(var.target_project_ids) > 0 ? var.target_project_ids : [var.project_id])

  evidence_bucket_name = coalesce(var.evidence_bucket_name, "${var.project_id}-scc-responder-evidence")
  source_dir           = coalesce(var.source_dir, "${path.module}/../dist/function-source")

  # Google-managed service agents that deliver events (see iam.tf, "plumbing").
  pubsub_service_agent  = "service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  storage_service_agent = data.google_storage_project_service_account.this.email_address

  # The SCC streaming filter: the policy's categories, active findings, GKE clusters only
  # (Cloud Run Threat Detection emits the same category on Cloud Run resources), and not
  # findings we already marked as handled: our own mark update re-notifies the finding and
  # would otherwise come straight back to us.
  # The categories come from the policy file the function ships and runs (the same
  # path shared/policy policyCategories() reads: every rule's match.categories), so the
  # filter can never forward less than the policy acts on. With var.ctd_source set, only the
  # organization's Container Threat Detection source is forwarded (infra/scc.tf).
  # shared/policy/scc-filter.ts sccFindingFilter() writes the same string for `policy
  # backtest` and `backfill`; test/integration/scc-filter-terraform.test.ts holds them equal.
  policy_document    = yamldecode(file("${local.source_dir}/${var.policy_file}"))
  policy_categories  = distinct(flatten([for rule in local.policy_document.rules : rule.match.categories]))
  finding_categories = distinct(concat(local.policy_categories, var.extra_finding_categories))
  category_clause    = join(" OR ", formatlist("category = \"%s\"", [for c in local.finding_categories : replace(c, "\"", "\\\"")]))

  handled_clauses = formatlist("-security_marks.marks.%s = \"%s\"", var.handled_mark_key, var.handled_mark_values)
  notification_filter = join(" AND ", concat([
    "(${local.category_clause})",
    "state = \"ACTIVE\"",
    "resource_name : \"//container.googleapis.com/\"",
  ], local.ctd_source_clauses, local.handled_clauses))

  # Cloud Run writes the function's stdout (our structured audit entries) to this log.
  audit_log_filter = join(" AND ", [
    "resource.type = \"cloud_run_revision\"",
    "resource.labels.service_name = \"${var.function_name}\"",
    "logName = \"projects/${var.project_id}/logs/run.googleapis.com%2Fstdout\"",
    "operation.producer = \"scc-container-responder\"",
  ])
}

resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "container.googleapis.com",
    "eventarc.googleapis.com",
    # Creating service accounts and project IAM grants on a fresh project.
    "iam.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "securitycenter.googleapis.com",
    "storage.googleapis.com",
  ])
  project = var.project_id
  service = each.value
  # Other workloads in the project may use these APIs too.
  disable_on_destroy = false
}
