# Every folder under functions/ is one Cloud Function (2nd gen, HTTP), with a service
# account of its own that holds exactly what that function's code needs.
# tests/infra checks this map against the code: every folder has an entry, every app
# secret / queue / media / per-user secret use found in the code a function reaches
# (media: "write" stores images, "read" only fetches them, "none")
# is granted here, and nothing more where the code shows it is not needed.

locals {
  functions = {
    api = {
      description  = "Admin REST API (/api/v1) behind the admin page."
      public       = true
      invoked_by   = []
      memory       = "1Gi"
      cpu          = "1"
      concurrency  = 8
      timeout      = 300 # contact imports of 100k rows
      max          = 20
      app_secrets  = ["token-signing-key", "track-hmac-key", "gemini-api-key", "x-consumer-key", "x-consumer-secret", "x-oauth2-client-id", "x-oauth2-client-secret"]
      user_secrets = "write" # SMTP passwords, X tokens, ad credentials
      enqueues     = ["tweets", "emails", "imports", "ads", "segments"]
      media        = "write"
      env = {
        HERALD_SMTP_CA_FILE = var.smtp_ca_file
      }
    }
    track = {
      description  = "Open pixel, click redirect, RFC 8058 unsubscribe, providers' bounce and complaint webhooks."
      public       = true
      invoked_by   = []
      memory       = "256Mi"
      cpu          = "1"
      concurrency  = 40
      timeout      = 30
      max          = 20
      app_secrets  = ["track-hmac-key"]
      user_secrets = "read" # webhook verification keys (SendGrid, Mailgun, Postmark)
      enqueues     = []
      media        = "none"
      env          = {}
    }
    dispatch = {
      description  = "Every minute: enqueues one task per due post, email batch and ad job."
      public       = false
      invoked_by   = ["scheduler"]
      memory       = "512Mi"
      cpu          = null
      concurrency  = 1
      timeout      = 120
      max          = 2
      app_secrets  = []
      user_secrets = "none"
      enqueues     = ["tweets", "emails", "imports", "bounces", "ads", "metrics", "generate"]
      media        = "none"
      env          = {}
    }
    post_tweet = {
      description  = "Publishes one post (and its thread and media) to X, exactly once."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "512Mi"
      cpu          = null
      concurrency  = 1
      timeout      = 300
      max          = 50
      app_secrets  = ["x-consumer-key", "x-consumer-secret", "x-oauth2-client-id", "x-oauth2-client-secret"]
      user_secrets = "write" # refreshing an OAuth 2.0 account's tokens stores the new ones
      enqueues     = ["tweets"]
      media        = "read"
      env          = {}
    }
    send_email = {
      description  = "Sends one batch of campaign emails over one SMTP connection."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "512Mi"
      cpu          = null
      concurrency  = 1
      timeout      = 540
      max          = 20
      app_secrets  = ["track-hmac-key"]
      user_secrets = "read"
      enqueues     = ["emails"]
      media        = "none"
      env = {
        HERALD_SMTP_CA_FILE = var.smtp_ca_file
      }
    }
    # Its own function and queue: a chunk is CPU and Firestore work (4,000 contacts and
    # their member pages), not SMTP; on the emails queue an import would hold the slots
    # of email batches. 10 at once: each owns its member pages, so none contend.
    import_contacts = {
      description  = "Writes one chunk of a large contact import: its contacts and member pages."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "1Gi"
      cpu          = "1"
      concurrency  = 1
      timeout      = 540
      max          = 10
      app_secrets  = []
      user_secrets = "none"
      enqueues     = []
      media        = "none"
      env          = {}
    }
    # Its own function and queue: a run waits on a workspace's IMAP server (20 s timeouts)
    # and applies the reports it finds; on the emails queue a slow mailbox would hold the
    # slot of an email batch. One run per mailbox and minute, 5 at once.
    read_bounces = {
      description  = "Reads one workspace's bounce mailbox over IMAP and applies its bounce and complaint reports."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "512Mi"
      cpu          = null
      concurrency  = 1
      timeout      = 300
      max          = 5
      app_secrets  = ["track-hmac-key"] # verifies the VERP tokens in the reports
      user_secrets = "read"             # the mailbox's IMAP password
      enqueues     = []
      media        = "none"
      env = {
        HERALD_SMTP_CA_FILE = var.smtp_ca_file # the IMAP TLS context is the SMTP one
      }
    }
    collect_metrics = {
      description  = "Collects X post metrics, folds email events into rollups, fans out ad insights."
      public       = false
      invoked_by   = ["scheduler", "tasks"]
      memory       = "512Mi"
      cpu          = null
      concurrency  = 1
      timeout      = 540
      max          = 10
      app_secrets  = ["x-consumer-key", "x-consumer-secret", "x-oauth2-client-id", "x-oauth2-client-secret"]
      user_secrets = "write" # refreshing an OAuth 2.0 account's tokens stores the new ones
      enqueues     = ["metrics", "ads"]
      media        = "none"
      env          = {}
    }
    generate = {
      description  = "Writes post drafts with Gemini (or the offline generator) and renders images."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "1Gi"
      cpu          = null
      concurrency  = 1
      timeout      = 300
      max          = 10
      app_secrets  = ["gemini-api-key", "x-consumer-key", "x-consumer-secret", "x-oauth2-client-id", "x-oauth2-client-secret"]
      user_secrets = "write" # the account's tokens, for trending hashtags (refreshed when due)
      enqueues     = ["tweets"]
      media        = "write"
      env          = {}
    }
    publish_ads = {
      description  = "Publishes job ads to Meta and Google Ads; pulls their insights."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "1Gi"
      cpu          = null
      concurrency  = 1
      timeout      = 540
      max          = 5
      app_secrets  = []
      user_secrets = "read"
      enqueues     = ["ads"]
      media        = "read"
      env          = {}
    }
    segment = {
      description  = "k-means segmentation of a job opening's candidate pool."
      public       = false
      invoked_by   = ["tasks"]
      memory       = "2Gi"
      cpu          = "1"
      concurrency  = 1
      timeout      = 540
      max          = 3
      app_secrets  = []
      user_secrets = "none"
      enqueues     = []
      media        = "none"
      env          = {}
    }
  }

  # Folders under functions/ that hold a main.py (a folder being written has none yet).
  function_dirs = toset([for f in fileset("${local.repo_root}/functions", "*/main.py") : dirname(f)])
  deployed      = { for name, cfg in local.functions : name => cfg if contains(local.function_dirs, name) }

  # Files of shared/ that go into every zip (text files; tests/infra checks nothing else exists there).
  shared_files = {
    for f in fileset("${local.repo_root}/shared", "**/*.{py,json,txt,html,j2,jinja,csv,md,toml,yaml}") :
    "shared/${f}" => "${local.repo_root}/shared/${f}" if !strcontains(f, "__pycache__")
  }

  function_names = { for name in keys(local.functions) : name => "${local.prefix}-${replace(name, "_", "-")}" }
  function_urls  = { for name, fn_name in local.function_names : name => "${local.function_base_url}/${fn_name}" }

  invoker_members = {
    tasks     = google_service_account.tasks_invoker.member
    scheduler = google_service_account.scheduler_invoker.member
  }

  # shared/settings.py is read by every function: its production settings go to all of
  # them, so no function sees a different value of an operator's knob. (Empty values are
  # dropped: the code's default applies.)
  common_env = merge(
    {
      HERALD_ENV                       = "production"
      GOOGLE_CLOUD_PROJECT             = var.project_id
      HERALD_REGION                    = var.region
      HERALD_FIRESTORE_DATABASE        = var.firestore_database
      HERALD_QUEUE_PREFIX              = "${local.prefix}-"
      HERALD_LOG_LEVEL                 = var.log_level
      HERALD_TRACK_URL                 = local.function_urls["track"]
      HERALD_ADMIN_ORIGIN              = local.admin_origin
      HERALD_TASKS_SERVICE_ACCOUNT     = google_service_account.tasks_invoker.email
      HERALD_DISPATCH_LOOKAHEAD_S      = tostring(var.dispatch_lookahead_s)
      HERALD_EMAIL_BATCH_SIZE          = tostring(var.email_batch_size)
      HERALD_GEMINI_MODEL              = var.gemini_model
      HERALD_X_API_BASE                = var.x_api_base
      HERALD_X_PRICES                  = var.x_prices
      HERALD_X_OAUTH2_AUTHORIZE_URL    = var.x_oauth2_authorize_url
      HERALD_RECOVERY_GRACE_S          = var.recovery_grace_s == 0 ? "" : tostring(var.recovery_grace_s)
      HERALD_METRICS_READ_BUDGET       = tostring(var.metrics_read_budget)
      HERALD_METRICS_ROLLUP_INTERVAL_S = tostring(var.metrics_rollup_interval_s)
      HERALD_TRUSTED_PROXIES           = tostring(var.trusted_proxies)
      HERALD_SMTP_ALLOWED_DESTINATIONS = join(",", var.smtp_allowed_destinations)
    },
    { for name, url in local.function_urls : "HERALD_URL_${upper(name)}" => url },
  )
}

# Adding a folder under functions/ without an entry above fails the plan, instead of
# silently leaving the new function undeployed.
resource "terraform_data" "function_folders" {
  input = sort(tolist(local.function_dirs))

  lifecycle {
    precondition {
      condition     = length(setsubtract(local.function_dirs, keys(local.functions))) == 0
      error_message = "functions/ has folders without an entry in local.functions (infra/functions.tf): ${join(", ", setsubtract(local.function_dirs, keys(local.functions)))}."
    }
  }
}

resource "google_service_account" "function" {
  for_each = local.functions

  project      = var.project_id
  account_id   = substr("${local.prefix}-fn-${replace(each.key, "_", "-")}", 0, 30)
  display_name = "Herald function ${each.key}"
  description  = "Runtime identity of the ${each.key} function; holds only what it needs."
}

module "function" {
  source   = "./modules/function"
  for_each = local.deployed

  project_id  = var.project_id
  region      = var.region
  name        = local.function_names[each.key]
  description = each.value.description
  entry_point = each.key
  runtime     = var.python_runtime
  labels      = { function = replace(each.key, "_", "-") }

  source_files = merge(
    {
      for f in fileset("${local.repo_root}/functions/${each.key}", "**/*.{py,txt,json,html,j2,jinja,csv,md}") :
      f => "${local.repo_root}/functions/${each.key}/${f}" if !strcontains(f, "__pycache__")
    },
    local.shared_files,
  )
  build_dir             = "${path.root}/.build"
  source_bucket         = google_storage_bucket.sources.name
  build_service_account = google_service_account.build.id
  docker_repository     = google_artifact_registry_repository.functions.id

  service_account_email = google_service_account.function[each.key].email
  environment = {
    for k, v in merge(
      local.common_env,
      each.value.media != "none" ? { HERALD_MEDIA_BUCKET = google_storage_bucket.media.name } : {},
      each.value.env,
    ) : k => v if v != ""
  }

  memory          = each.value.memory
  cpu             = each.value.cpu
  concurrency     = each.value.concurrency
  timeout_seconds = each.value.timeout
  min_instances   = contains(var.warm_functions, each.key) ? 1 : 0
  max_instances   = lookup(var.max_instances, each.key, each.value.max)
  vpc_connector   = each.key == "send_email" ? var.vpc_connector : null

  # Public: only api and track. Workers: only the Cloud Tasks / Scheduler identities.
  invokers = each.value.public ? { public = "allUsers" } : { for who in each.value.invoked_by : who => local.invoker_members[who] }

  # The build account's grants (main.tf), and the wait for them to take effect.
  depends_on = [google_project_service.enabled, time_sleep.build_grants]
}
