# Least privilege, per function. No basic roles (owner/editor/viewer) anywhere.

locals {
  app_secret_grants = merge([
    for fn, cfg in local.functions : {
      for s in cfg.app_secrets : "${fn}/${s}" => { function = fn, secret = s }
    }
  ]...)

  enqueue_grants = merge([
    for fn, cfg in local.functions : {
      for kind in cfg.enqueues : "${fn}/${kind}" => { function = fn, kind = kind }
    }
  ]...)

  enqueuers    = toset([for fn, cfg in local.functions : fn if length(cfg.enqueues) > 0])
  media_users  = { for fn, cfg in local.functions : fn => cfg.media if cfg.media != "none" }
  user_readers = toset([for fn, cfg in local.functions : fn if cfg.user_secrets == "read"])
  user_writers = toset([for fn, cfg in local.functions : fn if cfg.user_secrets == "write"])
}

# Firestore: read and write documents (no index or database administration).
resource "google_project_iam_member" "firestore_user" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

# App secrets: accessor on exactly the secrets each function reads.
resource "google_secret_manager_secret_iam_member" "app_secret_access" {
  for_each = local.app_secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

# Enqueuing functions: tasks are created with the Tasks invoker's OIDC identity, which
# needs actAs on that one service account (not on the project).
resource "google_service_account_iam_member" "act_as_tasks_invoker" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function[each.key].member
}

# Media bucket, that bucket only: object admin for the functions that store images,
# object viewer for those that only attach them (post_tweet, publish_ads).
resource "google_storage_bucket_iam_member" "media" {
  for_each = local.media_users

  bucket = google_storage_bucket.media.name
  role   = each.value == "write" ? "roles/storage.objectAdmin" : "roles/storage.objectViewer"
  member = google_service_account.function[each.key].member
}

# Per-user secrets (herald-ws-*), read by the workers that act for a user.
resource "google_project_iam_member" "user_secret_reader" {
  for_each = local.user_readers

  project = var.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = google_service_account.function[each.key].member

  condition {
    title       = "herald-ws-secrets-only"
    description = "Only the per-workspace secrets Herald creates at run time."
    expression  = "resource.name.startsWith(\"${local.user_secret_resource_prefix}\")"
  }
}

# Per-user secrets written at run time (SMTP passwords, X tokens, ad credentials).
# Creating a secret is checked on the project, so the custom role's create permission
# is usable on the project; every other permission only on herald-ws-* secrets.
resource "google_project_iam_custom_role" "user_secret_writer" {
  project     = var.project_id
  role_id     = "${local.prefix}UserSecretWriter"
  title       = "Herald per-user secret writer"
  description = "Create, version, read and delete Herald's per-workspace secrets (herald-ws-*)."
  permissions = [
    "secretmanager.secrets.create",
    "secretmanager.secrets.delete",
    "secretmanager.secrets.get",
    "secretmanager.versions.access",
    "secretmanager.versions.add",
  ]
}

resource "google_project_iam_member" "user_secret_writer" {
  for_each = local.user_writers

  project = var.project_id
  role    = google_project_iam_custom_role.user_secret_writer.id
  member  = google_service_account.function[each.key].member

  condition {
    title       = "herald-ws-secrets-only"
    description = "Manage only herald-ws-* secrets; create is evaluated on the project."
    expression  = "resource.name.startsWith(\"${local.user_secret_resource_prefix}\") || resource.type == \"cloudresourcemanager.googleapis.com/Project\""
  }
}
