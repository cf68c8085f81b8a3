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

resource "google_monitoring_alert_policy" "failures" {
  display_name          = "scc-responder: failed steps or dead-lettered findings"
  combiner              = "OR"
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      The SCC container responder failed on a finding. Steps: Logs Explorer with
      `operation.producer="scc-container-responder" AND severity>=WARNING`; the operation id is the
      finding name. Dead letters: pull `${google_pubsub_subscription.dead_letters.name}` and see
      infra/README.md ("Retries and dead letters") to replay them.
    EOT
  }

  conditions {
    display_name = "Failed steps"
    condition_threshold {
      filter          = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.steps_failed.name}\" AND resource.type = \"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_failed_steps_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.step", "metric.label.failure"]
      }
    }
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
