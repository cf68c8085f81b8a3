# The evidence bucket: binaries copied out of compromised containers, their manifests and
# the triage reports. The function can create objects and read them back, never overwrite or
# delete them (iam.tf); the bucket adds retention, no public access and optional CMEK.

resource "google_storage_bucket" "evidence" {
  name     = local.evidence_bucket_name
  location = var.region
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # Evidence outlives a `terraform destroy` unless someone empties the bucket on purpose.
  force_destroy = false

  # Cloud Storage rejects a retention policy on a bucket with object versioning: one or the other.
  versioning {
    enabled = var.evidence_protection == "versioning"
  }

  dynamic "retention_policy" {
    for_each = var.evidence_protection == "retention" ? [1] : []
    content {
      retention_period = var.evidence_retention_days * 86400
      is_locked        = var.evidence_retention_locked
    }
  }

  dynamic "encryption" {
    for_each = var.evidence_kms_key_name == null ? [] : [var.evidence_kms_key_name]
    content {
      default_kms_key_name = encryption.value
    }
  }

  # Evidence is rarely read after the first weeks.
  dynamic "lifecycle_rule" {
    for_each = var.evidence_coldline_after_days > 0 ? [1] : []
    content {
      condition {
        age = var.evidence_coldline_after_days
      }
      action {
        type          = "SetStorageClass"
        storage_class = "COLDLINE"
      }
    }
  }

  # ... and deleted once the retention period is over. With versioning, this Delete at age N
  # does not remove data: it makes the live version noncurrent, and the rule below deletes
  # noncurrent versions N days after that, so evidence is gone at about 2N days.
  lifecycle_rule {
    condition {
      age = var.evidence_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # With versioning: noncurrent versions (replaced, deleted, or made noncurrent by the rule
  # above) are deleted evidence_retention_days after they became noncurrent.
  dynamic "lifecycle_rule" {
    for_each = var.evidence_protection == "versioning" ? [1] : []
    content {
      condition {
        days_since_noncurrent_time = var.evidence_retention_days
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.apis, google_kms_crypto_key_iam_member.evidence_cmek]
}
