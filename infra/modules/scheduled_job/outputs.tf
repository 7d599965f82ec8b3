output "name" {
  description = "Job name."
  value       = google_cloud_scheduler_job.this.name
}

output "id" {
  description = "Full resource name of the job."
  value       = google_cloud_scheduler_job.this.id
}
