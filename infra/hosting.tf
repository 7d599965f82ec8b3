# The admin page: static files in a public website bucket, with config.json telling
# the page where the API is. Only this bucket is public; it holds no user data.

locals {
  admin_dir = "${local.repo_root}/admin"
  admin_files = toset([
    for f in fileset(local.admin_dir, "**") : f
    if !startswith(f, "node_modules/") && !endswith(f, ".stamp") && f != "config.json"
  ])
  content_types = {
    html  = "text/html; charset=utf-8"
    js    = "text/javascript; charset=utf-8"
    mjs   = "text/javascript; charset=utf-8"
    css   = "text/css; charset=utf-8"
    json  = "application/json"
    map   = "application/json"
    svg   = "image/svg+xml"
    png   = "image/png"
    jpg   = "image/jpeg"
    ico   = "image/x-icon"
    woff  = "font/woff"
    woff2 = "font/woff2"
    ttf   = "font/ttf"
    txt   = "text/plain; charset=utf-8"
  }
  admin_bucket = "${var.project_id}-${local.prefix}-admin"
  # Virtual-hosted URL: HTTPS with Google's certificate, no domain needed, and an origin
  # of its own. (The path-style https://storage.googleapis.com/BUCKET/ would share one
  # origin, and its storage and CORS trust, with every other bucket's pages.)
  admin_origin = var.admin_domain != "" ? "https://${var.admin_domain}" : format("https://%s.storage.googleapis.com", local.admin_bucket)
  admin_url    = "${local.admin_origin}/index.html"
  admin_lb     = var.admin_domain != "" ? 1 : 0

  # The headers local/admin_server.py sets, for the load balancer path (the page also
  # carries its CSP in a <meta> tag for the plain bucket URL).
  admin_headers = [
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: ${local.function_base_url} https://storage.googleapis.com; font-src 'self'; connect-src 'self' ${local.function_base_url}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options: nosniff",
    "Referrer-Policy: no-referrer",
    "X-Frame-Options: DENY",
    "Strict-Transport-Security: max-age=31536000",
  ]
}

resource "google_storage_bucket" "admin" {
  #checkov:skip=CKV_GCP_62:A public static site's access logs add cost without signal.
  #checkov:skip=CKV_GCP_78:The site is redeployed from git by Terraform; object versioning adds nothing.
  #checkov:skip=CKV_GCP_114:This bucket is the public static admin page (HTML/JS/CSS only, no data); public access is its purpose.
  name                        = local.admin_bucket
  project                     = var.project_id
  location                    = var.region
  uniform_bucket_level_access = true
  force_destroy               = true

  website {
    main_page_suffix = "index.html"
    not_found_page   = "index.html"
  }

  depends_on = [google_project_service.enabled]
}

# The admin page is a public static site: anyone may read its files (never user data:
# everything else goes through the authenticated API).
resource "google_storage_bucket_iam_member" "admin_public" {
  #checkov:skip=CKV_GCP_28:The bucket is the public admin page (static HTML/JS/CSS only); all data access needs an API token.
  bucket = google_storage_bucket.admin.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}

resource "google_storage_bucket_object" "admin" {
  for_each = local.admin_files

  bucket        = google_storage_bucket.admin.name
  name          = each.value
  source        = "${local.admin_dir}/${each.value}"
  content_type  = lookup(local.content_types, reverse(split(".", each.value))[0], "application/octet-stream")
  cache_control = "no-cache"
}

# The API URL injected into the page (the local stack serves the same shape).
resource "google_storage_bucket_object" "admin_config" {
  bucket        = google_storage_bucket.admin.name
  name          = "config.json"
  content       = jsonencode({ apiUrl = module.function["api"].url })
  content_type  = "application/json"
  cache_control = "no-cache"
}

# ---------------------------------------------------------------------------------
# Optional: the admin page on its own domain behind an HTTPS load balancer.

resource "google_compute_backend_bucket" "admin" {
  count = local.admin_lb

  project                 = var.project_id
  name                    = "${local.prefix}-admin"
  bucket_name             = google_storage_bucket.admin.name
  enable_cdn              = false
  custom_response_headers = local.admin_headers

  depends_on = [google_project_service.enabled]
}

resource "google_compute_url_map" "admin" {
  count = local.admin_lb

  project         = var.project_id
  name            = "${local.prefix}-admin"
  default_service = google_compute_backend_bucket.admin[0].id
}

resource "google_compute_managed_ssl_certificate" "admin" {
  count = local.admin_lb

  project = var.project_id
  name    = "${local.prefix}-admin"

  managed {
    domains = [var.admin_domain]
  }

  depends_on = [google_project_service.enabled]
}

resource "google_compute_ssl_policy" "admin" {
  count = local.admin_lb

  project         = var.project_id
  name            = "${local.prefix}-admin"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.enabled]
}

resource "google_compute_target_https_proxy" "admin" {
  count = local.admin_lb

  project          = var.project_id
  name             = "${local.prefix}-admin"
  url_map          = google_compute_url_map.admin[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.admin[0].id]
  ssl_policy       = google_compute_ssl_policy.admin[0].id
}

resource "google_compute_global_address" "admin" {
  count = local.admin_lb

  project = var.project_id
  name    = "${local.prefix}-admin"

  depends_on = [google_project_service.enabled]
}

resource "google_compute_global_forwarding_rule" "admin" {
  count = local.admin_lb

  project               = var.project_id
  name                  = "${local.prefix}-admin-https"
  target                = google_compute_target_https_proxy.admin[0].id
  ip_address            = google_compute_global_address.admin[0].address
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL"
}
