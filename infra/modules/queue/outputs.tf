output "name" {
  description = "Queue id."
  value       = google_cloud_tasks_queue.this.name
}

output "id" {
  description = "Full resource name projects/P/locations/L/queues/Q."
  value       = google_cloud_tasks_queue.this.id
}
