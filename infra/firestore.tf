# The Firestore database, a composite index for every query the code runs that
# single-field indexes cannot serve, and TTL policies for expiring documents.
# tests/infra records every query the test suite runs and fails when one of them
# needs an index that is not listed here.

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
  ]

  # collection => field holding the expiry instant.
  ttl_policies = {
    claims = "expires_at"
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
