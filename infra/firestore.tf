# The Firestore database, a composite index for every query the code can build that
# single-field indexes cannot serve, and TTL policies for expiring documents.
# Every query is declared in shared/queries; tests/infra/test_query_catalogue.py
# enumerates every shape each declaration can produce and fails when one needs an index
# not listed here, or when an index here serves none.

resource "google_firestore_database" "this" {
  count = var.create_firestore_database ? 1 : 0

  project                           = var.project_id
  name                              = var.firestore_database
  location_id                       = var.firestore_location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.enabled]
}

locals {
  database = var.create_firestore_database ? google_firestore_database.this[0].name : var.firestore_database

  # Each index: a collection and its ordered fields; a field is "path" (ascending),
  # "path desc" or "path contains" (array-contains). Equality fields first, then the
  # range / order_by fields in the query's order (what Firestore's own error link proposes).
  firestore_indexes = [
    { collection = "ad_campaigns", fields = ["status", "sort_key"] },
    { collection = "ad_campaigns", fields = ["status", "start_at"] },
    { collection = "ad_campaigns", fields = ["status", "workspace_id", "sort_key"] },
    { collection = "ad_campaigns", fields = ["workspace_id", "sort_key"] },
    { collection = "ad_insights", fields = ["workspace_id", "date"] },
    { collection = "campaigns", fields = ["status", "created_key"] },
    { collection = "campaigns", fields = ["status", "workspace_id", "created_key"] },
    { collection = "campaigns", fields = ["workspace_id", "created_key"] },
    { collection = "candidate_imports", fields = ["workspace_id", "sort_key"] },
    { collection = "candidates", fields = ["segment_id", "workspace_id", "sort_key"] },
    { collection = "candidates", fields = ["workspace_id", "sort_key"] },
    { collection = "contact_import_chunks", fields = ["status", "updated_at"] },
    { collection = "contact_list_members", fields = ["list_id", "workspace_id", "hi"] },
    { collection = "contact_lists", fields = ["workspace_id", "created_at"] },
    { collection = "contacts", fields = ["workspace_id", "email_norm"] },
    { collection = "contacts", fields = ["workspace_id", "list_ids contains"] },
    { collection = "contacts", fields = ["workspace_id", "list_ids contains", "email_norm"] },
    { collection = "email_batches", fields = ["campaign_id", "key"] },
    { collection = "email_batches", fields = ["campaign_id", "status", "key"] },
    { collection = "email_batches", fields = ["campaign_id", "workspace_id", "key"] },
    { collection = "email_batches", fields = ["sender_domain", "workspace_id", "finished_at"] },
    { collection = "email_batches", fields = ["status", "due_at"] },
    { collection = "email_batches", fields = ["status", "lease_until"] },
    { collection = "email_batches", fields = ["workspace_id", "finished_at"] },
    { collection = "email_batches", fields = ["workspace_id", "key"] },
    { collection = "email_campaign_days", fields = ["campaign_id", "workspace_id", "date"] },
    { collection = "email_campaign_metrics", fields = ["workspace_id", "campaign_id"] },
    { collection = "email_campaign_metrics", fields = ["workspace_id", "last_event_ms desc"] },
    { collection = "email_campaigns", fields = ["status", "due_at"] },
    { collection = "email_campaigns", fields = ["workspace_id", "key"] },
    { collection = "email_events", fields = ["domain", "type", "workspace_id", "at"] },
    { collection = "email_events", fields = ["type", "workspace_id", "at"] },
    { collection = "email_events", fields = ["workspace_id", "at"] },
    { collection = "email_suppressions", fields = ["workspace_id", "email_norm"] },
    { collection = "email_templates", fields = ["workspace_id", "created_at"] },
    { collection = "job_openings", fields = ["status", "workspace_id", "sort_key"] },
    { collection = "job_openings", fields = ["workspace_id", "sort_key"] },
    { collection = "media", fields = ["workspace_id", "created_at desc"] },
    { collection = "memberships", fields = ["workspace_id", "user_id"] },
    { collection = "metrics_daily", fields = ["workspace_id", "date"] },
    { collection = "post_metrics_snapshots", fields = ["post_id", "at"] },
    { collection = "post_metrics_snapshots", fields = ["workspace_id", "at"] },
    { collection = "post_series", fields = ["active", "next_key"] },
    { collection = "post_series", fields = ["workspace_id", "created_key"] },
    { collection = "post_templates", fields = ["workspace_id", "created_key"] },
    { collection = "sandbox_posts", fields = ["account_id", "created_at"] },
    { collection = "posts", fields = ["account_id", "created_at desc"] },
    { collection = "posts", fields = ["account_id", "published_at"] },
    { collection = "posts", fields = ["account_id", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["account_id", "status", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["account_id", "campaign_id", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["account_id", "campaign_id", "status", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["campaign_id", "due_at"] },
    { collection = "posts", fields = ["campaign_id", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["campaign_id", "status", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["status", "next_key"] },
    { collection = "posts", fields = ["status", "workspace_id", "due_key"] },
    { collection = "posts", fields = ["workspace_id", "due_key"] },
    { collection = "posts", fields = ["workspace_id", "published_at"] },
    { collection = "segment_runs", fields = ["status", "workspace_id", "sort_key desc"] },
    { collection = "segment_runs", fields = ["workspace_id", "sort_key"] },
    { collection = "segments", fields = ["workspace_id", "sort_key"] },
    { collection = "x_accounts", fields = ["workspace_id", "created_key"] },
  ]

  # collection => field holding the expiry instant (documents are deleted, typically
  # within a day, after it passes). tests/infra finds every collection the code writes
  # with an `expires_at` and checks it is here.
  ttl_policies = {
    claims           = "expires_at" # exactly-once claims (shared/claims.py)
    revoked_tokens   = "expires_at" # logged-out bearer tokens, kept until they expire anyway
    login_attempts   = "expires_at" # login throttle counters, one window each
    invitations      = "expires_at" # workspace invitations (14 days)
    x_oauth_requests = "expires_at" # pending X OAuth 1.0a request tokens (30 min)
    email_events     = "expires_at" # raw engagement events (400 days); rollups keep the counts
    email_uniques    = "expires_at" # a recipient's first open / click marker, as long as its event
  }
}

resource "google_firestore_index" "composite" {
  for_each = { for ix in local.firestore_indexes : "${ix.collection}:${join(",", ix.fields)}" => ix }

  project     = var.project_id
  database    = local.database
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = split(" ", fields.value)[0]
      order        = endswith(fields.value, " contains") ? null : (endswith(fields.value, " desc") ? "DESCENDING" : "ASCENDING")
      array_config = endswith(fields.value, " contains") ? "CONTAINS" : null
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each = local.ttl_policies

  project    = var.project_id
  database   = local.database
  collection = each.key
  field      = each.value

  # The expiry field is never queried: no single-field indexes, just the TTL policy.
  index_config {}

  ttl_config {}
}

# ---------------------------------------------------------------------------------
# Single-field index exemptions

locals {
  # collection => fields that grow with the data and are only read whole, never queried
  # (member maps, a batch's recipients and outcomes, reports, per-minute and per-day
  # maps). Firestore indexes every map key and array element by default: each is an index
  # write on every change and counts toward the 40,000 index entries a document may have.
  # tests/infra checks this against the UNINDEXED_FIELDS the code declares (shared/) and
  # that no query filters or orders on these fields.
  index_exemptions = {
    best_time              = ["buckets"]
    candidate_imports      = ["report"]
    claims                 = ["inflight"]
    contact_import_chunks  = ["custom", "payload"]
    contact_imports        = ["report"]
    contact_list_members   = ["members"]
    contacts               = ["fields"]
    email_batches          = ["inflight", "outcomes", "recipients"]
    email_campaign_days    = ["links"]
    email_campaign_metrics = ["daily", "links"]
    email_campaigns        = ["expand_carry"]
    email_events           = ["recipient_ids"]
    email_quotas           = ["minutes"]
  }

  unindexed_fields = merge([
    for collection, fields in local.index_exemptions : {
      for field in fields : "${collection}.${field}" => { collection = collection, field = field }
    }
  ]...)
}

resource "google_firestore_field" "unindexed" {
  for_each = local.unindexed_fields

  project    = var.project_id
  database   = local.database
  collection = each.value.collection
  field      = each.value.field

  # No ascending, descending or array-contains index on the field (a map's subfields
  # inherit this): written and read whole only.
  index_config {}
}
