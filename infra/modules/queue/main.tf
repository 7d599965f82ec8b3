# One Cloud Tasks queue with its rate limits, retry policy and queue-level enqueuers.

resource "google_cloud_tasks_queue" "this" {
  project  = var.project_id
  location = var.region
  name     = var.name

  rate_limits {
    max_dispatches_per_second = var.max_dispatches_per_second
    max_concurrent_dispatches = var.max_concurrent_dispatches
  }

  dynamic "retry_config" {
    for_each = var.retry == null ? [] : [var.retry]
    content {
      max_attempts       = retry_config.value.max_attempts
      min_backoff        = retry_config.value.min_backoff
      max_backoff        = retry_config.value.max_backoff
      max_doublings      = retry_config.value.max_doublings
      max_retry_duration = retry_config.value.max_retry_duration
    }
  }

  stackdriver_logging_config {
    sampling_ratio = var.log_sampling_ratio
  }
}

# Enqueue permission on this queue only (not project-wide).
resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = var.enqueuers

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.this.name
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value
}
