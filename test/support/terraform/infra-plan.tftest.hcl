# `terraform test` runs over a copy of infra/ (test/integration/terraform-validate.test.ts):
# real plans with mocked providers (mock_provider takes its schema from the schema-only
# provider, so nothing reaches Google), which is where Terraform evaluates our variable
# validations, counts, conditionals and locals. Each expect_failures run fails unless the
# named validation rejects the value.

mock_provider "google" {}
mock_provider "archive" {}

variables {
  project_id      = "responder-host-1"
  organization_id = "123456789012"
  # source_dir (a tree holding policies/default.yaml) is passed with -var by the test.
}

run "defaults_plan" {
  command = plan

  assert {
    condition     = google_service_account.trigger.account_id == "scc-responder-trigger"
    error_message = "trigger account id"
  }
  assert {
    condition     = length(google_service_account.build) == 1 && length(google_project_iam_member.build_builder) == 1 && length(google_storage_bucket_iam_member.build_source_reader) == 1
    error_message = "a dedicated build account with its grants is created when build_service_account is null"
  }
  assert {
    condition     = length(google_monitoring_alert_policy.failures.conditions[0].condition_matched_log) == 1 && length(google_monitoring_alert_policy.failures.conditions[0].condition_threshold) == 0
    error_message = "the failed-steps alert is a log-match alert (no user-metric threshold)"
  }
  assert {
    condition     = google_cloudfunctions2_function.responder.service_config[0].vpc_connector == null && google_cloudfunctions2_function.responder.service_config[0].vpc_connector_egress_settings == null
    error_message = "no VPC egress by default"
  }
  assert {
    condition     = strcontains(local.notification_filter, "-security_marks.marks.scc_responder_state = \"triaged\"")
    error_message = "the filter excludes handled findings"
  }
}

run "own_build_account_and_vpc_connector" {
  command = plan
  variables {
    build_service_account = "projects/responder-host-1/serviceAccounts/builder@responder-host-1.iam.gserviceaccount.com"
    vpc_connector         = "projects/responder-host-1/locations/us-central1/connectors/responder"
    # The longest accepted id (22 characters).
    service_account_id = "abcdefghij-klmnopqrstu"
  }

  assert {
    condition     = length(google_service_account.build) == 0 && google_cloudfunctions2_function.responder.build_config[0].service_account == var.build_service_account
    error_message = "a given build account is used as is"
  }
  assert {
    condition     = google_cloudfunctions2_function.responder.service_config[0].vpc_connector_egress_settings == "PRIVATE_RANGES_ONLY"
    error_message = "the connector carries private ranges only by default"
  }
  assert {
    condition     = length(google_service_account.trigger.account_id) == 30
    error_message = "<id>-trigger of the longest id is exactly 30 characters"
  }
}

# One plan per set of bad values (each variable fails its own validation; expect_failures
# requires every one of them to fail).
run "bad_variables" {
  command = plan
  variables {
    service_account_id        = "abcdefghij-klmnopqrstuv" # 23: <id>-trigger would be 31
    handled_mark_key          = "scc-responder-state"     # "-" is negation in the SCC filter
    alert_notification_period = "60s"                     # log-match alerts: at least 300s
    vpc_connector             = "responder-connector"     # not a connector resource name
  }
  expect_failures = [var.service_account_id, var.handled_mark_key, var.alert_notification_period, var.vpc_connector]
}

run "short_service_account_id_and_digit_mark_key" {
  command = plan
  variables {
    service_account_id = "scc-r"
    handled_mark_key   = "1state"
  }
  expect_failures = [var.service_account_id, var.handled_mark_key]
}

run "upper_case_service_account_id" {
  command = plan
  variables {
    service_account_id = "SCC-responder"
  }
  expect_failures = [var.service_account_id]
}
