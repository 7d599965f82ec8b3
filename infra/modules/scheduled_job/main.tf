# A Cloud Scheduler job that POSTs to a function with an OIDC token, so the function
# itself stays private (only the job's service account may invoke it).

resource "google_cloud_scheduler_job" "this" {
  project          = var.project_id
  region           = var.region
  name             = var.name
  description      = var.description
  schedule         = var.schedule
  time_zone        = var.time_zone
  attempt_deadline = var.attempt_deadline
  paused           = var.paused

  http_target {
    http_method = "POST"
    uri         = var.target_url
    body        = base64encode(var.body)
    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = var.service_account_email
      audience              = var.target_url
    }
  }

  dynamic "retry_config" {
    for_each = var.retry == null ? [] : [var.retry]
    content {
      retry_count          = retry_config.value.retry_count
      min_backoff_duration = retry_config.value.min_backoff_duration
      max_backoff_duration = retry_config.value.max_backoff_duration
      max_doublings        = retry_config.value.max_doublings
    }
  }
}
