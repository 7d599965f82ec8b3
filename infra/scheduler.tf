# Cloud Scheduler: dispatch every minute, collect_metrics on its own cadence. Both
# call the function with the scheduler service account's OIDC token.

locals {
  scheduled_jobs = {
    dispatch = {
      function    = "dispatch"
      schedule    = var.dispatch_schedule
      description = "Enqueue due posts, email batches and ad jobs."
      deadline    = "120s"
    }
    metrics = {
      function    = "collect_metrics"
      schedule    = var.metrics_schedule
      description = "Collect post metrics and roll up email and ad figures."
      deadline    = "540s"
    }
  }
}

module "scheduled_job" {
  source   = "./modules/scheduled_job"
  for_each = local.scheduled_jobs

  project_id            = var.project_id
  region                = var.region
  name                  = "${local.prefix}-${each.key}"
  description           = each.value.description
  schedule              = each.value.schedule
  target_url            = local.function_urls[each.value.function]
  service_account_email = google_service_account.scheduler_invoker.email
  attempt_deadline      = each.value.deadline

  depends_on = [google_project_service.enabled, module.function]
}
