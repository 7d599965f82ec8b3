output "admin_url" {
  description = "The admin page."
  value       = local.admin_url
}

output "admin_ip" {
  description = "With admin_domain set: the IP address the domain's A record must point at."
  value       = var.admin_domain != "" ? google_compute_global_address.admin[0].address : null
}

output "api_url" {
  description = "Base URL of the admin API (the page reads it from config.json)."
  value       = module.function["api"].url
}

output "track_url" {
  description = "Public tracking endpoint used in emails (HERALD_TRACK_URL)."
  value       = module.function["track"].url
}

output "function_urls" {
  description = "URL of every deployed function."
  value       = { for name, fn in module.function : name => fn.url }
}

output "queues" {
  description = "Cloud Tasks queue ids by kind."
  value       = { for kind, q in module.queue : kind => q.name }
}

output "app_secrets" {
  description = "Secret Manager secrets whose values the operator must add (see README, Deploy)."
  value       = [for s in google_secret_manager_secret.app : s.secret_id]
}

output "media_bucket" {
  description = "Bucket for post images (HERALD_MEDIA_BUCKET)."
  value       = google_storage_bucket.media.name
}

output "service_accounts" {
  description = "Runtime service account of each function."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}
