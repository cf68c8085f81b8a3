# Findings in (from SCC), results out (to whoever subscribes), dead letters aside.

resource "google_pubsub_topic" "findings" {
  name   = "${var.name_prefix}-findings"
  labels = local.labels
  # Kept a week so a bug fix can be replayed over past findings (gcloud pubsub subscriptions seek).
  message_retention_duration = "604800s"
  depends_on                 = [google_project_service.apis]
}

resource "google_pubsub_topic" "results" {
  name       = "${var.name_prefix}-results"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

# Messages the function failed on dead_letter_max_delivery_attempts times (transient errors
# that never cleared). Permanent errors are acked with an ERROR audit entry and never land here.
resource "google_pubsub_topic" "dead_letters" {
  name       = "${var.name_prefix}-dead-letters"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

# Without a subscription, messages published to the dead-letter topic are dropped.
resource "google_pubsub_subscription" "dead_letters" {
  name                       = "${var.name_prefix}-dead-letters"
  topic                      = google_pubsub_topic.dead_letters.id
  labels                     = local.labels
  message_retention_duration = var.dead_letter_retention
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = "" # never expires for inactivity
  }
}
