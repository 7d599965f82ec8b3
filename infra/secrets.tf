# App secrets live in Secret Manager as "herald-app-<name>" (shared/secrets.py).
# Terraform creates the secrets only; values are added by the operator (README,
# "Deploy"), so they never enter the Terraform state.

locals {
  app_secrets = {
    "token-signing-key"      = "Signs the admin API's bearer tokens (32+ random bytes, base64)."
    "track-hmac-key"         = "Signs tracking links in emails (32+ random bytes, base64)."
    "gemini-api-key"         = "Gemini API key for generate (optional: without it the offline generator is used)."
    "x-consumer-key"         = "X app consumer (API) key for OAuth 1.0a."
    "x-consumer-secret"      = "X app consumer (API) secret for OAuth 1.0a."
    "x-oauth2-client-id"     = "X app OAuth 2.0 client id (connecting accounts with PKCE)."
    "x-oauth2-client-secret" = "X app OAuth 2.0 client secret (confidential clients; optional)."
  }
}

resource "google_secret_manager_secret" "app" {
  #checkov:skip=CKV_GCP_128:Google-managed encryption is the default we document; a CMEK key can be added by the operator but is not required by Herald.
  for_each = local.app_secrets

  project   = var.project_id
  secret_id = "${local.secret_prefix}app-${each.key}"
  labels    = { managed-by = "terraform", herald-secret = "app" }

  annotations = {
    purpose = each.value
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
