variable "project_id" {
  description = "Google Cloud project that hosts the function."
  type        = string
}

variable "region" {
  description = "Region of the function (Cloud Functions 2nd gen location)."
  type        = string
}

variable "name" {
  description = "Function name in Google Cloud (lower case letters, digits and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.name))
    error_message = "The function name must be lower case letters, digits and hyphens, starting with a letter."
  }
}

variable "description" {
  description = "What the function does, shown in the console."
  type        = string
  default     = ""
}

variable "entry_point" {
  description = "Name of the Python function in main.py that handles requests."
  type        = string
}

variable "runtime" {
  description = "Python runtime of Cloud Functions 2nd gen, e.g. python312."
  type        = string
}

variable "source_files" {
  description = "Files of the deployment zip: path inside the zip => path on disk. Text files only (archive_file reads them as UTF-8)."
  type        = map(string)

  validation {
    condition     = contains(keys(var.source_files), "main.py") && contains(keys(var.source_files), "requirements.txt")
    error_message = "The zip needs main.py and requirements.txt at its root."
  }
}

variable "build_dir" {
  description = "Local directory where the zip is written before upload."
  type        = string
}

variable "source_bucket" {
  description = "Bucket that stores the deployment zips."
  type        = string
}

variable "service_account_email" {
  description = "Service account the function runs as (one per function, least privilege)."
  type        = string
}

variable "build_service_account" {
  description = "Service account id (projects/P/serviceAccounts/EMAIL) Cloud Build builds the function with. It needs object read on the zip's bucket and on gcf-v2-sources-<project number>-<region>, write on docker_repository, and log writing (see the root main.tf). No default: the project's default build account is broad, and may lack these."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository (projects/P/locations/L/repositories/R) the build pushes the function's image to."
  type        = string
}

variable "environment" {
  description = "Plain environment variables of the function (no secrets: those are read from Secret Manager at run time)."
  type        = map(string)
  default     = {}
}

variable "secret_environment" {
  description = "Optional environment variables filled from Secret Manager: NAME => { secret, version }."
  type = map(object({
    secret  = string
    version = optional(string, "latest")
  }))
  default = {}
}

variable "memory" {
  description = "Memory of each instance, e.g. 256Mi, 512Mi, 1Gi."
  type        = string
  default     = "256Mi"
}

variable "cpu" {
  description = "vCPUs of each instance (null lets Cloud Functions choose from the memory)."
  type        = string
  default     = null
}

variable "timeout_seconds" {
  description = "Request timeout; Cloud Tasks' dispatch deadline must not exceed it."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 3600
    error_message = "timeout_seconds must be between 1 and 3600."
  }
}

variable "min_instances" {
  description = "Instances kept warm (0 scales to zero)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances: caps cost and the load on outside services."
  type        = number
  default     = 10
}

variable "concurrency" {
  description = "Concurrent requests per instance (needs cpu >= 1 when above 1)."
  type        = number
  default     = 1
}

variable "ingress" {
  description = "Ingress setting: ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB. Cloud Tasks and Scheduler reach functions from outside the VPC, so workers keep ALLOW_ALL and rely on IAM."
  type        = string
  default     = "ALLOW_ALL"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress)
    error_message = "ingress must be ALLOW_ALL, ALLOW_INTERNAL_ONLY or ALLOW_INTERNAL_AND_GCLB."
  }
}

variable "invokers" {
  description = "Members granted roles/run.invoker on the function's service, keyed by a static label (keys must be known at plan time), e.g. { tasks = \"serviceAccount:...\" }. The member \"allUsers\" makes the function public."
  type        = map(string)
  default     = {}
}

variable "vpc_connector" {
  description = "Optional Serverless VPC Access connector (for example to reach an SMTP relay with a fixed egress IP)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the function and its zip."
  type        = map(string)
  default     = {}
}
