# Log-based metrics from the audit trail (shared/record/audit-log.ts): every entry of a
# finding carries `logging.googleapis.com/operation` (id = finding name, producer
# scc-container-responder) and `logging.googleapis.com/labels`, which Cloud Logging turns
# into `operation` and `labels` on the entry. The summary entry (operation.last) carries the
# complete labels and `jsonPayload.summary`; a step entry carries `jsonPayload.step`.

resource "google_logging_metric" "findings_handled" {
  name        = "${var.name_prefix}/findings_handled"
  description = "Findings the responder finished (one per summary entry), by verdict and action."
  filter      = "${local.audit_log_filter} AND operation.last = true AND jsonPayload.summary.verdict:*"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "verdict"
      value_type  = "STRING"
      description = "handled, dry-run, no-rule, failed, retry, duplicate, ..."
    }
    labels {
      key         = "action"
      value_type  = "STRING"
      description = "What was done (marks vocabulary): would-delete, deleted, quarantined, none, ..."
    }
    labels {
      key        = "mode"
      value_type = "STRING"
    }
    labels {
      key        = "rule"
      value_type = "STRING"
    }
    labels {
      key        = "cluster"
      value_type = "STRING"
    }
  }

  label_extractors = {
    "verdict" = "EXTRACT(labels.verdict)"
    "action"  = "EXTRACT(labels.action)"
    "mode"    = "EXTRACT(labels.mode)"
    "rule"    = "EXTRACT(labels.rule)"
    "cluster" = "EXTRACT(labels.cluster)"
  }
}

resource "google_logging_metric" "pods_contained" {
  name        = "${var.name_prefix}/pods_contained"
  description = "Pods the responder deleted or quarantined (enforce mode only; dry-run says would-*)."
  filter      = "${local.audit_log_filter} AND operation.last = true AND jsonPayload.summary.verdict:* AND labels.action =~ \"^(deleted|quarantined)\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "action"
      value_type = "STRING"
    }
    labels {
      key        = "cluster"
      value_type = "STRING"
    }
    labels {
      key        = "namespace"
      value_type = "STRING"
    }
  }

  label_extractors = {
    "action"    = "EXTRACT(labels.action)"
    "cluster"   = "EXTRACT(labels.cluster)"
    "namespace" = "EXTRACT(labels.namespace)"
  }
}

resource "google_logging_metric" "steps_failed" {
  name        = "${var.name_prefix}/steps_failed"
  description = "Failed pipeline steps, by step and failure kind (transient = retried, permanent = acked with an ERROR entry)."
  filter      = "${local.audit_log_filter} AND jsonPayload.step.status = \"failed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key        = "step"
      value_type = "STRING"
    }
    labels {
      key        = "failure"
      value_type = "STRING"
    }
    labels {
      key        = "cluster"
      value_type = "STRING"
    }
  }

  label_extractors = {
    "step"    = "EXTRACT(jsonPayload.step.name)"
    "failure" = "EXTRACT(jsonPayload.step.failure)"
    "cluster" = "EXTRACT(labels.cluster)"
  }
}

# Alerts. Why two policies, and why the failed-steps one matches log entries instead of
# thresholding the steps_failed metric: Cloud Monitoring answers 404 for a user log-based
# metric (logging.googleapis.com/user/...) for up to ~10 minutes after Logging created it
# (hashicorp/terraform-provider-google#11102), so an alert policy on that metric fails the
# FIRST apply. depends_on cannot help: the metric resource is already created when the
# policy is attempted; Monitoring simply does not know it yet, and a fixed sleep would need
# another provider and still be a guess. A log-match condition (condition_matched_log)
# reads the same filter straight from Cloud Logging and needs no metric at all. A
# log-match condition must be the only condition of its policy, so the dead-letter backlog
# (a built-in Pub/Sub metric, known to Monitoring from the start) has its own policy.

resource "google_monitoring_alert_policy" "failures" {
  display_name          = "scc-responder: failed steps"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The SCC container responder failed a step on a finding. Logs Explorer:
      `operation.producer="scc-container-responder" AND severity>=WARNING`; the operation id is
      the finding name. Transient failures are retried; permanent ones are acknowledged.
    EOT
  }

  conditions {
    display_name = "Failed steps"
    condition_matched_log {
      # The very filter of the steps_failed metric, evaluated by Cloud Logging.
      filter = google_logging_metric.steps_failed.filter
      label_extractors = {
        "step"    = "EXTRACT(jsonPayload.step.name)"
        "failure" = "EXTRACT(jsonPayload.step.failure)"
        "cluster" = "EXTRACT(labels.cluster)"
      }
    }
  }

  alert_strategy {
    # Required for log-match conditions: at most one notification per period.
    notification_rate_limit {
      period = var.alert_notification_period
    }
    auto_close = "86400s"
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "scc-responder: dead-lettered findings"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Findings the responder could not handle after every retry are waiting in
      `${google_pubsub_subscription.dead_letters.name}`. See infra/README.md ("Retries and dead
      letters") to inspect and replay them.
    EOT
  }

  conditions {
    display_name = "Dead-lettered findings waiting"
    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = \"${google_pubsub_subscription.dead_letters.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.apis]
}
