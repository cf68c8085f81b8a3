# Providers. No backend block here: a local `terraform init` keeps state locally; Cloud Build
# writes a backend_override.tf (GCS backend) before `init` so CI state lives in a bucket.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # >= 6.0: google_scc_v2_organization_notification_config, build_config.service_account
      # and terraform_data are all available.
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
