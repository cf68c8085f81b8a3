output "function_name" {
  value = google_cloudfunctions2_function.responder.name
}

output "responder_service_account_email" {
  description = "The function's identity: the RBAC subject in infra/k8s/rbac.yaml."
  value       = google_service_account.responder.email
}

output "trigger_service_account_email" {
  value = google_service_account.trigger.email
}

output "findings_topic" {
  value = google_pubsub_topic.findings.id
}

output "results_topic" {
  value = google_pubsub_topic.results.id
}

output "dead_letter_topic" {
  value = google_pubsub_topic.dead_letters.id
}

output "dead_letter_subscription" {
  value = google_pubsub_subscription.dead_letters.id
}

output "evidence_bucket" {
  value = "gs://${google_storage_bucket.evidence.name}"
}

output "eventarc_trigger" {
  description = "The Eventarc trigger of the function; its Pub/Sub subscription carries the dead-letter route."
  value       = google_cloudfunctions2_function.responder.event_trigger[0].trigger
}

output "notification_filter" {
  value = local.notification_filter
}

output "dead_letter_route_env" {
  description = "Environment for infra/scripts/route-dead-letters.sh (when configure_dead_letter = false)."
  value = join(" ", [
    "TRIGGER=${google_cloudfunctions2_function.responder.event_trigger[0].trigger}",
    "DEAD_LETTER_TOPIC=${google_pubsub_topic.dead_letters.id}",
    "MAX_ATTEMPTS=${var.dead_letter_max_delivery_attempts}",
    "PUBSUB_AGENT=${local.pubsub_service_agent}",
  ])
}

output "rbac_apply_command" {
  description = "Run once per cluster (with its kubectl context), from any directory, to grant the Kubernetes verbs and apply the admission policy that keeps the responder out of protected namespaces."
  value       = "sed 's/scc-responder@PROJECT_ID.iam.gserviceaccount.com/${google_service_account.responder.email}/' ${abspath(path.module)}/k8s/rbac.yaml ${abspath(path.module)}/k8s/protected-namespaces-policy.yaml | kubectl apply -f -"
}
