# ------------------------------------------------------------------ where

variable "project_id" {
  description = "Project that hosts the responder (function, topics, buckets, service accounts)."
  type        = string
}

variable "region" {
  description = "Region of the function, its Eventarc trigger and the buckets."
  type        = string
  default     = "us-central1"
}

variable "organization_id" {
  description = "Numeric organization id: the SCC notification config and the security-marks grant live there."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+$", var.organization_id))
    error_message = "organization_id is the numeric id (gcloud organizations list)."
  }
}

variable "target_project_ids" {
  description = "Projects whose GKE clusters and logs the responder reads (roles/container.clusterViewer and roles/logging.viewer are granted in each). Empty = project_id only."
  type        = list(string)
  default     = []
}

variable "name_prefix" {
  description = "Prefix of the topics, function and notification config names."
  type        = string
  default     = "scc-responder"
}

variable "service_account_id" {
  description = "Account id of the function's service account; the trigger's and the build's accounts are <id>-trigger and <id>-build. infra/k8s/rbac.yaml binds scc-responder@PROJECT_ID.iam.gserviceaccount.com: keep the default or substitute the full email when applying RBAC (terraform output rbac_apply_command does)."
  type        = string
  default     = "scc-responder"

  validation {
    # Account ids are 6-30 characters: [a-z][-a-z0-9]{4,28}[a-z0-9]. The longest derived id,
    # "<id>-trigger", adds 8 characters, so the id itself may have at most 22.
    condition     = can(regex("^[a-z][-a-z0-9]{4,20}[a-z0-9]$", var.service_account_id))
    error_message = "service_account_id must be 6-22 characters of lower-case letters, digits and dashes, starting with a letter and not ending with a dash (so that \"<id>-trigger\" is a valid 6-30 character account id)."
  }
}

variable "labels" {
  description = "Extra labels on every labelled resource."
  type        = map(string)
  default     = {}
}

# ------------------------------------------------------------------ which findings

variable "extra_finding_categories" {
  description = "Categories to forward in addition to those the deployed policy covers. The notification filter already reads every rule's match.categories from policy_file itself, so policy and filter cannot drift; this is only for findings you want delivered (and acknowledged as no-rule) without a rule."
  type        = list(string)
  default     = []
}

variable "handled_mark_key" {
  description = "Security mark the responder writes on a finding it has handled (shared/record/marks.ts MARK_KEYS.state); the notification filter drops findings carrying one of handled_mark_values, so our own mark update does not come back to us."
  type        = string
  default     = "scc_responder_state"

  validation {
    # SCC accepts dashes in mark keys, but the key is also a field name in the notification
    # filter (-security_marks.marks.<key> = "..."), where "-" is the negation operator and a
    # name cannot start with a digit: only keys that parse as one filter field are allowed.
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_]{0,255}$", var.handled_mark_key))
    error_message = "handled_mark_key must be 1-256 letters, digits and underscores, not starting with a digit (it is a field name in the SCC notification filter, where a dash would parse as negation)."
  }
}

variable "handled_mark_values" {
  description = "Values of handled_mark_key that mean 'handled, do not act again' (shared/record/marks.ts FINAL_MARK_STATES; not awaiting-approval, whose approval mark must reach the function)."
  type        = list(string)
  default     = ["triaged", "contained", "failed", "reverted", "denied", "expired"]

  validation {
    condition     = length(var.handled_mark_values) > 0 && alltrue([for v in var.handled_mark_values : !can(regex("\"", v))])
    error_message = "handled_mark_values must be non-empty and contain no double quotes."
  }
}

variable "scc_api" {
  description = "SCC API of the notification config: v2 (google_scc_v2_organization_notification_config, location global; recommended) or v1 (google_scc_notification_config, for organizations not yet on the v2 API). The function decodes both message formats."
  type        = string
  default     = "v2"

  validation {
    condition     = contains(["v1", "v2"], var.scc_api)
    error_message = "scc_api is v1 or v2."
  }
}

# ------------------------------------------------------------------ function

variable "function_name" {
  description = "Name of the Cloud Function (2nd gen); also the name of its Cloud Run service."
  type        = string
  default     = "scc-responder"
}

variable "source_dir" {
  description = "Staged function source (dist/bundle, package.json, package-lock.json, policies/), made by infra/scripts/stage-function.sh. Null = ../dist/function-source next to this module."
  type        = string
  default     = null
}

variable "policy_file" {
  description = "Policy file shipped with the source, relative to the source root (SCC_RESPONDER_POLICY). Dry-run by default; point it at an enforcing policy to act (see infra/README.md)."
  type        = string
  default     = "policies/default.yaml"

  validation {
    condition     = can(regex("^policies/[A-Za-z0-9._-]+\\.ya?ml$", var.policy_file))
    error_message = "policy_file is a YAML file under policies/ (it must be shipped in the source)."
  }
}

variable "max_instances" {
  description = "Upper bound on concurrent function instances (also bounds the parallel load on the Kubernetes API servers)."
  type        = number
  default     = 10
}

variable "min_instances" {
  description = "Warm instances (0 = scale to zero; 1 removes the cold start for the first finding)."
  type        = number
  default     = 0
}

variable "concurrency" {
  description = "Requests (findings) one instance handles at once (max_instance_request_concurrency). Above 1 needs available_cpu >= 1."
  type        = number
  default     = 4
}

variable "available_cpu" {
  description = "vCPUs per instance."
  type        = string
  default     = "1"
}

variable "available_memory" {
  description = "Memory per instance. Evidence is streamed, never buffered whole, so this bounds concurrency, not file size."
  type        = string
  default     = "1Gi"
}

variable "timeout_seconds" {
  description = "Function timeout (event-driven functions: at most 540 s). The responder's own deadline is set 30 s below it."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 540
    error_message = "timeout_seconds must be between 60 and 540 for an event-driven function."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the function (trace, debug, info, warn, error)."
  type        = string
  default     = "info"
}

variable "build_service_account" {
  description = "Service account Cloud Build uses to build the function (projects/P/serviceAccounts/EMAIL). Null = a dedicated <service_account_id>-build account created here with roles/cloudbuild.builds.builder and read access to the source bucket (projects created since July 2024 no longer give the default Cloud Build account what a function build needs). Bring your own and grant it the same."
  type        = string
  default     = null

  validation {
    condition     = var.build_service_account == null || can(regex("^projects/[^/]+/serviceAccounts/[^/]+@[^/]+$", var.build_service_account))
    error_message = "build_service_account is projects/PROJECT/serviceAccounts/EMAIL."
  }
}

# ------------------------------------------------------------------ network (private clusters)

variable "vpc_connector" {
  description = "Serverless VPC Access connector (projects/P/locations/R/connectors/C) for clusters whose control plane is reachable only inside the VPC (private endpoint, no DNS-based endpoint with external traffic allowed). Null = no VPC egress: the function reaches the public or DNS-based endpoint. Direct VPC egress is not offered by google_cloudfunctions2_function in the google provider releases validated here (6.1.0-6.50.0; checked against the schema), so the connector is the Terraform path."
  type        = string
  default     = null

  validation {
    condition     = var.vpc_connector == null || can(regex("^projects/[^/]+/locations/[^/]+/connectors/[^/]+$", var.vpc_connector))
    error_message = "vpc_connector is projects/PROJECT/locations/REGION/connectors/NAME."
  }
}

variable "vpc_egress" {
  description = "What goes through vpc_connector: PRIVATE_RANGES_ONLY (RFC 1918 destinations such as a private control plane; Google APIs stay direct) or ALL_TRAFFIC."
  type        = string
  default     = "PRIVATE_RANGES_ONLY"

  validation {
    condition     = contains(["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"], var.vpc_egress)
    error_message = "vpc_egress is PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  }
}

# ------------------------------------------------------------------ delivery

variable "dead_letter_max_delivery_attempts" {
  description = "Deliveries of one message before it goes to the dead-letter topic (5-100). Retries back off 10 s -> 600 s; 20 attempts span about 2.5 h, 100 about 16 h, both inside the 24 h the subscription retains a message."
  type        = number
  default     = 20

  validation {
    condition     = var.dead_letter_max_delivery_attempts >= 5 && var.dead_letter_max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "configure_dead_letter" {
  description = "Route dead letters on the Eventarc-managed subscription with gcloud during apply (the google provider cannot set it: see infra/README.md). Needs gcloud on the machine running terraform. False = run infra/scripts/route-dead-letters.sh yourself."
  type        = bool
  default     = true
}

variable "dead_letter_retention" {
  description = "How long the dead-letter subscription keeps messages (max 31 days)."
  type        = string
  default     = "1209600s"
}

# ------------------------------------------------------------------ evidence

variable "evidence_bucket_name" {
  description = "Evidence bucket name (global). Null = <project_id>-scc-responder-evidence."
  type        = string
  default     = null
}

variable "evidence_protection" {
  description = "How stored evidence is protected against deletion and replacement: retention (a bucket retention policy of evidence_retention_days; objects cannot be deleted or replaced before then) or versioning (object versioning; replaced/deleted objects stay as noncurrent versions). Cloud Storage does not allow both on one bucket."
  type        = string
  default     = "retention"

  validation {
    condition     = contains(["retention", "versioning"], var.evidence_protection)
    error_message = "evidence_protection is retention or versioning."
  }
}

variable "evidence_retention_days" {
  description = "Evidence is kept this long (retention policy, and the lifecycle deletes it afterwards)."
  type        = number
  default     = 90

  validation {
    condition     = var.evidence_retention_days >= 1
    error_message = "evidence_retention_days must be at least 1."
  }
}

variable "evidence_retention_locked" {
  description = "Lock the retention policy (irreversible: the bucket cannot be deleted and the period cannot be shortened). For regulated evidence."
  type        = bool
  default     = false
}

variable "evidence_coldline_after_days" {
  description = "Move evidence to COLDLINE after this many days (0 = never)."
  type        = number
  default     = 30
}

variable "evidence_kms_key_name" {
  description = "Optional CMEK for the evidence bucket (projects/P/locations/L/cryptoKeys/... in the bucket's location). The Cloud Storage service agent is granted encrypter/decrypter on it."
  type        = string
  default     = null
}

# ------------------------------------------------------------------ alerting

variable "alert_notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) for the failure alert. Empty = the alert shows in the console only."
  type        = list(string)
  default     = []
}

variable "alert_notification_period" {
  description = "At most one failed-steps notification per this period (the log-match alert's notification_rate_limit; at least 300s)."
  type        = string
  default     = "300s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.alert_notification_period)) && try(tonumber(trimsuffix(var.alert_notification_period, "s")) >= 300, false)
    error_message = "alert_notification_period is a duration in seconds such as \"300s\", at least 300s."
  }
}

variable "notify_secrets" {
  description = "Names of the Secret Manager secrets a policy's notify targets name (webhook URLs, PagerDuty routing keys). Terraform creates the empty secrets and grants the function secretAccessor on each, and nothing more; add the values with `gcloud secrets versions add NAME --data-file=-`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.notify_secrets : can(regex("^[A-Za-z][A-Za-z0-9_-]{0,99}$", s))])
    error_message = "Each notify secret name must match the policy schema: a letter, then letters, digits, _ or - (at most 100 characters)."
  }
}

variable "scc_data_write_audit_logs" {
  description = "Enable Data Access (DATA_WRITE) audit logs for securitycenter.googleapis.com on the organization, so approval mode can record who set the approval mark. Authoritative for SCC's audit config on the organization: leave false if it is managed elsewhere (then enable DATA_WRITE there)."
  type        = bool
  default     = false
}
