variable "project_id" {
  description = "Google Cloud project of the queue."
  type        = string
}

variable "region" {
  description = "Location of the queue (the same region as the functions)."
  type        = string
}

variable "name" {
  description = "Queue id; the code derives it as HERALD_QUEUE_PREFIX + kind."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]{1,100}$", var.name))
    error_message = "A queue id has letters, digits and hyphens only (at most 100)."
  }
}

variable "max_dispatches_per_second" {
  description = "Rate at which tasks are dispatched (caps the load on the worker and the outside service)."
  type        = number
}

variable "max_concurrent_dispatches" {
  description = "Tasks in flight at once."
  type        = number
}

variable "retry" {
  description = "Retry policy of tasks that fail (non-2xx or timeout). null leaves the Cloud Tasks defaults."
  type = object({
    max_attempts       = number
    min_backoff        = string
    max_backoff        = string
    max_doublings      = number
    max_retry_duration = optional(string, "0s")
  })
  default = null
}

variable "log_sampling_ratio" {
  description = "Fraction of task operations logged to Cloud Logging (0 to 1)."
  type        = number
  default     = 1.0

  validation {
    condition     = var.log_sampling_ratio >= 0 && var.log_sampling_ratio <= 1
    error_message = "log_sampling_ratio must be between 0 and 1."
  }
}

variable "enqueuers" {
  description = "Members granted roles/cloudtasks.enqueuer on this queue only, keyed by a static label (keys must be known at plan time)."
  type        = map(string)
  default     = {}
}
