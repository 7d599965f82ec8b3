# Herald on Google Cloud: the root module wires the shared pieces (APIs, buckets,
# service accounts) that functions.tf, queues.tf, scheduler.tf, secrets.tf,
# firestore.tf, hosting.tf and monitoring.tf build on.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  repo_root = abspath("${path.module}/..")
  prefix    = var.name_prefix

  # Secret Manager names are fixed by the code (shared/secrets.py SecretManagerStore):
  # app secrets are "herald-app-<name>", per-user secrets "herald-ws-<workspace>-...".
  secret_prefix      = "herald-"
  user_secret_prefix = "herald-ws-"

  # IAM conditions see Secret Manager resources by project number.
  user_secret_resource_prefix = "projects/${data.google_project.this.number}/secrets/${local.user_secret_prefix}"

  # 2nd gen functions answer on this URL as well as their run.app URL. It is known before
  # the functions exist, so workers can address each other (and themselves: a worker
  # re-enqueues its own retries) without a dependency cycle. Tasks use it as OIDC audience.
  function_base_url = "https://${var.region}-${var.project_id}.cloudfunctions.net"
}

# ---------------------------------------------------------------------------------
# APIs

locals {
  services = toset(concat(var.admin_domain != "" ? ["compute.googleapis.com"] : [], [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]))
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project using it.
  disable_on_destroy = false
}

# ---------------------------------------------------------------------------------
# Buckets

# Deployment zips of the functions (written by Terraform, read by Cloud Build).
resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Access logs of a bucket only Terraform and Cloud Build touch add cost and no signal; Cloud Audit Logs record admin access.
  name                        = "${var.project_id}-${local.prefix}-sources"
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  # Zip names carry their content hash, so a live object is never overwritten; deleted
  # (noncurrent) versions are dropped after 30 days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Images attached to posts (generated cards, uploads): HERALD_MEDIA_BUCKET.
resource "google_storage_bucket" "media" {
  #checkov:skip=CKV_GCP_62:Object access goes through the functions' service accounts only; Data Access audit logs can be enabled project-wide if needed.
  name                        = "${var.project_id}-${local.prefix}-media"
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# ---------------------------------------------------------------------------------
# Service accounts that are not a function's own

# Cloud Tasks attaches this account's OIDC token to every task (HERALD_TASKS_SERVICE_ACCOUNT);
# it may invoke the worker functions and nothing else.
resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "${local.prefix}-tasks-invoker"
  display_name = "Herald Cloud Tasks invoker"
  description  = "OIDC identity of Cloud Tasks HTTP tasks; holds run.invoker on worker functions only."
}

# Cloud Scheduler calls dispatch and collect_metrics with this account's OIDC token.
resource "google_service_account" "scheduler_invoker" {
  project      = var.project_id
  account_id   = "${local.prefix}-scheduler"
  display_name = "Herald Cloud Scheduler invoker"
  description  = "OIDC identity of the Cloud Scheduler jobs; holds run.invoker on the scheduled functions only."
}

# Cloud Build builds the function images with this account instead of the broad
# default compute account.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.prefix}-build"
  display_name = "Herald function builds"
  description  = "Builds Herald's functions: reads the source zips, writes images and build logs."
}

resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}
