# The SCC notification config: streams matching findings to the findings topic.
# Creating it needs roles/securitycenter.notificationConfigEditor on the ORGANIZATION for the
# identity running terraform (see infra/README.md, prerequisites).

# v2 API (default): organization-level config in location "global".
resource "google_scc_v2_organization_notification_config" "findings" {
  count        = var.scc_api == "v2" ? 1 : 0
  organization = var.organization_id
  location     = "global"
  config_id    = "${var.name_prefix}-findings"
  description  = "Container Threat Detection findings on GKE for scc-container-responder"
  pubsub_topic = google_pubsub_topic.findings.id

  streaming_config {
    filter = local.notification_filter
  }

  lifecycle {
    precondition {
      condition     = length(local.finding_categories) > 0
      error_message = "The policy file (var.policy_file) covers no category: the notification config would forward nothing."
    }
  }
}

# v1 API alternative (scc_api = "v1"): same topic, same filter syntax. The function decodes
# both message formats (v1 and v2 NotificationMessage).
resource "google_scc_notification_config" "findings_v1" {
  count        = var.scc_api == "v1" ? 1 : 0
  organization = var.organization_id
  config_id    = "${var.name_prefix}-findings"
  description  = "Container Threat Detection findings on GKE for scc-container-responder"
  pubsub_topic = google_pubsub_topic.findings.id

  streaming_config {
    filter = local.notification_filter
  }
}

locals {
  # The SCC service agent that publishes notifications (exported by whichever config exists).
  scc_notification_service_account = one(concat(
    google_scc_v2_organization_notification_config.findings[*].service_account,
    google_scc_notification_config.findings_v1[*].service_account,
  ))
}

# Container Threat Detection's source in this organization (`organizations/ORG/sources/ID`,
# find it with: gcloud scc sources describe ORG --source-display-name="Container Threat Detection").
# When set, the notification filter forwards only that source's findings (`parent = "..."`,
# the filter syntax has no source display name). The function checks the source of every
# finding with SCC either way; name it in the policy's confirm.sources to pin it there too.
variable "ctd_source" {
  description = "Container Threat Detection's source name (organizations/ORG/sources/ID): the notification filter forwards only its findings. Null = filter by category, state and resource only."
  type        = string
  default     = null
  validation {
    condition     = var.ctd_source == null || can(regex("^organizations/[0-9]+/sources/[0-9]+$", var.ctd_source))
    error_message = "ctd_source is organizations/ORG_ID/sources/SOURCE_ID."
  }
}

locals {
  ctd_source_clauses = var.ctd_source == null ? [] : ["parent = \"${var.ctd_source}\""]
}
