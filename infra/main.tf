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

# Cloud Build builds the function images with this account (build_config.service_account
# of every function) instead of the broad default compute account. What a 2nd gen build
# touches, and nothing more:
# - the zip: Cloud Functions copies build_config's storage_source object into its own
#   staging bucket gcf-v2-sources-<project number>-<region> and the build fetches it
#   from there, so the account needs object read on that bucket ("Access to bucket
#   gcf-v2-sources-... denied. You must grant Storage Object Viewer permission", as in
#   hashicorp/terraform-provider-google#20571) as well as on the sources bucket;
# - Artifact Registry: it pushes the image (and the buildpacks cache) to the repository
#   below, which build_config.docker_repository names;
# - Cloud Logging: the build log.
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${local.prefix}-build"
  display_name = "Herald function builds"
  description  = "Builds Herald's functions: reads the source zips, writes images and build logs."
}

locals {
  # Google creates this bucket on the first 2nd gen deploy in the region, so it cannot be
  # granted on as a resource before it exists: the grant is on the project, limited by an
  # IAM condition to that one bucket and its objects.
  gcf_staging_bucket = "gcf-v2-sources-${data.google_project.this.number}-${var.region}"
}

resource "google_project_iam_member" "build_log_writer" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_project_iam_member" "build_staging_reader" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.build.member

  condition {
    title       = "gcf-v2-sources-only"
    description = "Only Cloud Functions' staging bucket of the source zips in this region."
    expression  = "resource.name == \"projects/_/buckets/${local.gcf_staging_bucket}\" || resource.name.startsWith(\"projects/_/buckets/${local.gcf_staging_bucket}/\")"
  }
}

resource "google_storage_bucket_iam_member" "build_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# The functions' images: a repository of Herald's own (instead of the gcf-artifacts one
# Google creates), so the build account writes to it and to nothing else in Artifact
# Registry, and old images are cleaned up instead of kept forever.
resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:The images hold only the open-source code and its public packages; Google-managed encryption, as for the default gcf-artifacts repository.
  project       = var.project_id
  location      = var.region
  repository_id = "${local.prefix}-functions"
  description   = "Images Cloud Build makes of Herald's functions (build_config.docker_repository)."
  format        = "DOCKER"

  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s" # 30 days; the 5 most recent versions of each image stay
    }
  }

  depends_on = [google_project_service.enabled]
}

resource "google_artifact_registry_repository_iam_member" "build_writer" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

# New grants take a while to reach Cloud Build: the first builds wait for them (the
# provider's own cloudfunctions2 builder example does the same).
resource "time_sleep" "build_grants" {
  create_duration = "60s"

  triggers = {
    member = google_service_account.build.member
  }

  depends_on = [
    google_project_iam_member.build_log_writer,
    google_project_iam_member.build_staging_reader,
    google_storage_bucket_iam_member.build_sources,
    google_artifact_registry_repository_iam_member.build_writer,
  ]
}
