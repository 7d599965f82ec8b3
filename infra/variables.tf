variable "project_id" {
  description = "Google Cloud project to deploy Herald into (must have billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6 to 30 lower case letters, digits or hyphens."
  }
}

variable "region" {
  description = "Region for Cloud Functions, Cloud Tasks, Cloud Scheduler and the buckets (HERALD_REGION)."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1 or us-central1."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, service accounts, queues, buckets, jobs)."
  type        = string
  default     = "herald"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.name_prefix))
    error_message = "name_prefix must be 2 to 10 lower case letters or digits, starting with a letter."
  }
}

variable "python_runtime" {
  description = "Cloud Functions Python runtime. The code targets Python 3.11 and runs on newer runtimes."
  type        = string
  default     = "python312"

  validation {
    condition     = contains(["python311", "python312", "python313"], var.python_runtime)
    error_message = "python_runtime must be python311, python312 or python313."
  }
}

variable "firestore_location" {
  description = "Firestore location (multi-region eur3 / nam5, or a region). Cannot change after creation."
  type        = string
  default     = "eur3"
}

variable "firestore_database" {
  description = "Firestore database id (HERALD_FIRESTORE_DATABASE)."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4 to 63 lower case letters, digits or hyphens."
  }
}

variable "create_firestore_database" {
  description = "Create the Firestore database. Set false when the project already has it (indexes and TTL policies are still managed)."
  type        = bool
  default     = true
}

variable "deletion_protection" {
  description = "Protect the Firestore database and the media bucket from `terraform destroy`."
  type        = bool
  default     = true
}

variable "log_level" {
  description = "Log level of every function (HERALD_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "dispatch_schedule" {
  description = "Cron schedule of the dispatcher. Every minute: with HERALD_DISPATCH_LOOKAHEAD_S >= 60 no due item is missed."
  type        = string
  default     = "* * * * *"
}

variable "metrics_schedule" {
  description = "Cron schedule of collect_metrics (it fans out one task per account or page of work)."
  type        = string
  default     = "*/30 * * * *"
}

variable "dispatch_lookahead_s" {
  description = "Seconds ahead the dispatcher enqueues due items (HERALD_DISPATCH_LOOKAHEAD_S)."
  type        = number
  default     = 90

  validation {
    condition     = var.dispatch_lookahead_s >= 60
    error_message = "dispatch_lookahead_s must be at least 60: the dispatcher runs once a minute."
  }
}

variable "email_batch_size" {
  description = "Recipients per send_email task, sent over one SMTP connection (HERALD_EMAIL_BATCH_SIZE)."
  type        = number
  default     = 50

  validation {
    condition     = var.email_batch_size >= 1 && var.email_batch_size <= 500
    error_message = "email_batch_size must be between 1 and 500."
  }
}

variable "gemini_model" {
  description = "Gemini model used by generate (HERALD_GEMINI_MODEL)."
  type        = string
  default     = "gemini-2.5-flash"
}

variable "warm_functions" {
  description = "Functions kept at one warm instance to avoid cold starts (e.g. [\"dispatch\", \"post_tweet\"] for second-exact posting). Costs an idle instance each."
  type        = list(string)
  default     = []
}

variable "max_instances" {
  description = "Per-function upper bound on instances; functions not listed use their built-in default."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.max_instances) : v >= 1 && v <= 1000])
    error_message = "max_instances values must be between 1 and 1000."
  }
}

variable "alert_emails" {
  description = "Email addresses notified by the log-based alert policies (empty: the policies exist without a channel)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be email addresses."
  }
}

variable "smtp_ca_file" {
  description = "Optional path, inside the function, of an extra CA bundle for SMTP servers behind a private CA (HERALD_SMTP_CA_FILE). Empty: the system trust store only."
  type        = string
  default     = ""
}

variable "smtp_allowed_destinations" {
  description = "SMTP destinations allowed although they are private, loopback, link-local or reserved addresses (HERALD_SMTP_ALLOWED_DESTINATIONS): addresses, CIDR networks or host names, e.g. [\"10.0.8.0/24\", \"relay.internal\"]. Empty: workspaces may only use public SMTP servers."
  type        = list(string)
  default     = []
}

variable "trusted_proxies" {
  description = "X-Forwarded-For entries, counted from the end, appended by proxies in front of the functions (HERALD_TRUSTED_PROXIES). Google's front end appends \"<client>, <load balancer>\": 2. Raise it by one per proxy of your own in front (e.g. a CDN that appends)."
  type        = number
  default     = 2

  validation {
    condition     = var.trusted_proxies >= 0 && var.trusted_proxies <= 10
    error_message = "trusted_proxies must be between 0 and 10."
  }
}

variable "vpc_connector" {
  description = "Optional Serverless VPC Access connector id for send_email (fixed egress IP for SMTP allow-lists)."
  type        = string
  default     = null
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "metrics_read_budget" {
  description = "X API reads collect_metrics may spend per run (pay-per-use bills reads) (HERALD_METRICS_READ_BUDGET)."
  type        = number
  default     = 10000

  validation {
    condition     = var.metrics_read_budget >= 0
    error_message = "metrics_read_budget cannot be negative."
  }
}

variable "metrics_rollup_interval_s" {
  description = "Seconds between ad rollup passes (HERALD_METRICS_ROLLUP_INTERVAL_S); email engagement folds at every dispatch tick."
  type        = number
  default     = 3600
}

variable "x_api_base" {
  description = "Optional https:// base URL replacing https://api.x.com for X API calls (an egress proxy) (HERALD_X_API_BASE). Empty: X directly."
  type        = string
  default     = ""

  validation {
    condition     = var.x_api_base == "" || startswith(var.x_api_base, "https://")
    error_message = "x_api_base must be empty or an https:// URL."
  }
}

variable "x_oauth2_authorize_url" {
  description = "X's OAuth 2.0 consent page (HERALD_X_OAUTH2_AUTHORIZE_URL)."
  type        = string
  default     = "https://x.com/i/oauth2/authorize"

  validation {
    condition     = startswith(var.x_oauth2_authorize_url, "https://")
    error_message = "x_oauth2_authorize_url must be an https:// URL."
  }
}

variable "x_prices" {
  description = "X's prices as a JSON object merged over shared/x/prices.json, e.g. {\"tiers\": {\"pay_per_use\": {\"post_usd\": 0.02}}} (HERALD_X_PRICES). Empty: the file's prices (X's list prices since 2026-04-20)."
  type        = string
  default     = ""

  validation {
    condition     = var.x_prices == "" || can(keys(jsondecode(var.x_prices)))
    error_message = "x_prices must be empty or a JSON object."
  }
}

variable "recovery_grace_s" {
  description = "Seconds an item may sit queued past its instant before dispatch decides its task was lost and enqueues it again (HERALD_RECOVERY_GRACE_S). 0: each pipeline's default."
  type        = number
  default     = 0

  validation {
    condition     = var.recovery_grace_s == 0 || var.recovery_grace_s >= 60
    error_message = "recovery_grace_s must be 0 (pipeline defaults) or at least 60: shorter re-enqueues tasks still in flight."
  }
}

variable "admin_domain" {
  description = "Optional domain for the admin page (e.g. herald.example.com). Set: an HTTPS load balancer with a Google-managed certificate serves the admin bucket there, with security headers (CSP, frame-ancestors, HSTS); point the domain's A record at the admin_ip output. Empty: the bucket's own HTTPS URL."
  type        = string
  default     = ""

  validation {
    condition     = var.admin_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.admin_domain))
    error_message = "admin_domain must be empty or a lower case domain name such as herald.example.com."
  }
}
