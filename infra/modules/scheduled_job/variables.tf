variable "project_id" {
  description = "Google Cloud project of the job."
  type        = string
}

variable "region" {
  description = "Location of the job."
  type        = string
}

variable "name" {
  description = "Job name (the code sees it in the X-CloudScheduler-JobName header)."
  type        = string
}

variable "description" {
  description = "What the job triggers."
  type        = string
  default     = ""
}

variable "schedule" {
  description = "Cron schedule, e.g. \"* * * * *\" for every minute."
  type        = string

  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a five-field cron expression."
  }
}

variable "time_zone" {
  description = "IANA time zone the schedule is read in."
  type        = string
  default     = "Etc/UTC"
}

variable "target_url" {
  description = "HTTPS URL of the function to call (also the OIDC audience)."
  type        = string
}

variable "body" {
  description = "JSON body posted to the target."
  type        = string
  default     = "{}"
}

variable "service_account_email" {
  description = "Service account whose OIDC token the job attaches; it holds run.invoker on the target."
  type        = string
}

variable "attempt_deadline" {
  description = "How long the job waits for the target to answer."
  type        = string
  default     = "180s"
}

variable "retry" {
  description = "Optional retry policy when the target fails; null means no retry (the next tick runs anyway)."
  type = object({
    retry_count          = number
    min_backoff_duration = optional(string, "5s")
    max_backoff_duration = optional(string, "60s")
    max_doublings        = optional(number, 2)
  })
  default = null
}

variable "paused" {
  description = "Create the job paused."
  type        = bool
  default     = false
}
