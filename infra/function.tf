# The Cloud Function (2nd gen): source, function, and the dead-letter route on its trigger.

# ------------------------------------------------------------------ source

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-scc-responder-source"
  location                    = var.region
  labels                      = local.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  depends_on                  = [google_project_service.apis]
}

# The staged directory (infra/scripts/stage-function.sh) zipped; a content change gives a new
# object name and therefore a new function revision.
data "archive_file" "source" {
  type        = "zip"
  source_dir  = local.source_dir
  output_path = "${path.module}/../dist/function-source.zip"
}

resource "google_storage_bucket_object" "source" {
  name   = "function-source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# ------------------------------------------------------------------ function

resource "google_cloudfunctions2_function" "responder" {
  name        = var.function_name
  location    = var.region
  description = "Responds to SCC Container Threat Detection findings on GKE (policy: ${var.policy_file})."
  labels      = local.labels

  build_config {
    runtime         = "nodejs22"
    entry_point     = "sccResponder"
    service_account = coalesce(var.build_service_account, one(google_service_account.build[*].id))
    environment_variables = {
      # The source is already compiled: stop the buildpack from running `npm run build`
      # (our TypeScript build, whose inputs are not shipped).
      GOOGLE_NODE_RUN_SCRIPTS = ""
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.responder.email
    max_instance_count               = var.max_instances
    min_instance_count               = var.min_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = var.available_cpu
    available_memory                 = var.available_memory
    timeout_seconds                  = var.timeout_seconds
    # Reached only through Eventarc/Pub/Sub: no public endpoint that could be asked to delete pods.
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    # Private clusters without a reachable DNS-based endpoint: egress into the VPC.
    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : var.vpc_egress

    environment_variables = {
      SCC_RESPONDER_POLICY           = var.policy_file
      SCC_RESPONDER_EVIDENCE         = "gs://${google_storage_bucket.evidence.name}"
      SCC_RESPONDER_RESULTS_TOPIC    = google_pubsub_topic.results.id
      SCC_RESPONDER_MARKS            = "true"
      SCC_RESPONDER_LOGS             = "true"
      SCC_RESPONDER_CLUSTER_ACCESS   = "gke"
      SCC_RESPONDER_DEADLINE_SECONDS = tostring(var.timeout_seconds - 30)
      SCC_RESPONDER_SECRET_SOURCE    = "secret-manager"
      SCC_RESPONDER_SECRETS_PROJECT  = var.project_id
      LOG_LEVEL                      = var.log_level
      GOOGLE_CLOUD_PROJECT           = var.project_id
    }
  }

  event_trigger {
    trigger_region = var.region
    event_type     = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic   = google_pubsub_topic.findings.id
    # Transient failures throw; without this the message would be dropped on the first error.
    retry_policy          = "RETRY_POLICY_RETRY"
    service_account_email = google_service_account.trigger.email
  }

  # Permissions first, so the first finding does not fail on a missing grant.
  depends_on = [
    google_project_service.apis,
    google_project_iam_member.responder_cluster_viewer,
    google_project_iam_member.responder_logging_viewer,
    google_project_iam_member.responder_log_writer,
    google_organization_iam_member.responder_marks_writer,
    google_storage_bucket_iam_member.responder_evidence_creator,
    google_storage_bucket_iam_member.responder_evidence_viewer,
    google_pubsub_topic_iam_member.responder_results_publisher,
    google_project_iam_member.build_builder,
    google_storage_bucket_iam_member.build_source_reader,
  ]
}

# ------------------------------------------------------------------ dead letters

# The function's trigger owns a Pub/Sub push subscription that Eventarc creates and manages.
# The google provider exposes neither that subscription nor a dead-letter setting for it
# (hashicorp/terraform-provider-google#25069), and declaring a google_pubsub_subscription
# would create a second subscription rather than configure this one. So the route is set on
# the managed subscription with gcloud, after every change of the function or its trigger.
resource "terraform_data" "dead_letter_route" {
  count = var.configure_dead_letter ? 1 : 0

  triggers_replace = [
    google_cloudfunctions2_function.responder.event_trigger[0].trigger,
    google_cloudfunctions2_function.responder.update_time,
    google_pubsub_topic.dead_letters.id,
    var.dead_letter_max_delivery_attempts,
  ]

  provisioner "local-exec" {
    interpreter = ["/bin/bash", "-c"]
    command     = "${path.module}/scripts/route-dead-letters.sh"
    environment = {
      TRIGGER           = google_cloudfunctions2_function.responder.event_trigger[0].trigger
      DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letters.id
      MAX_ATTEMPTS      = tostring(var.dead_letter_max_delivery_attempts)
      PUBSUB_AGENT      = local.pubsub_service_agent
    }
  }

  depends_on = [google_pubsub_topic_iam_member.dead_letter_publisher, google_pubsub_subscription.dead_letters]
}
