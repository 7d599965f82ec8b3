# One Cloud Function (2nd gen, HTTP) built from a zip of its folder plus shared/.
#
# The zip's object name carries a hash of every source file, so changing any file
# (the function's or shared/'s) uploads a new object and redeploys the function;
# an unchanged tree keeps the same object and Terraform plans no change.

locals {
  source_hash = substr(sha256(join("\n", [
    for path in sort(keys(var.source_files)) : "${path}:${filesha256(var.source_files[path])}"
  ])), 0, 16)
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${var.build_dir}/${var.name}-${local.source_hash}.zip"

  dynamic "source" {
    for_each = var.source_files
    content {
      filename = source.key
      content  = file(source.value)
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name         = "functions/${var.name}/${local.source_hash}.zip"
  bucket       = var.source_bucket
  source       = data.archive_file.source.output_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Cloud Tasks and Cloud Scheduler call from outside any VPC, so ingress must be ALL; run.invoker IAM (OIDC) is what keeps workers private.
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime           = var.runtime
    entry_point       = var.entry_point
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    service_account_email            = var.service_account_email
    environment_variables            = var.environment
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = var.vpc_connector == null ? null : "PRIVATE_RANGES_ONLY"

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }
}

# Invocation is authorized on the Cloud Run service behind the function: only the
# listed members (the Cloud Tasks / Scheduler service accounts, or allUsers for the
# two public functions) may call it.
resource "google_cloud_run_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
