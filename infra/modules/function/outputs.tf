output "name" {
  description = "Function name."
  value       = google_cloudfunctions2_function.this.name
}

output "url" {
  description = "The function's HTTPS URL (cloudfunctions.net form)."
  value       = google_cloudfunctions2_function.this.url
}

output "service_uri" {
  description = "URI of the Cloud Run service that runs the function (run.app form)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "source_object" {
  description = "Bucket object of the deployed zip; its name carries the source hash."
  value       = google_storage_bucket_object.source.name
}
