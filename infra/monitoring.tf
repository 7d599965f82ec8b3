# Log-based alerts: the code writes one ERROR entry with a stable `alert` field
# (shared.log Logger.alert) for each failure a person must look at. One policy per
# alert type (tests/infra checks every type the code emits is here), plus a catch-all
# for any type added later.

locals {
  alert_types = {
    x_post_failed              = "A post could not be published to X (revoked token, suspended account, rejected content, retries exhausted)."
    x_post_unconfirmed         = "A post's outcome on X is unknown after a timeout; reconciliation will settle it, check if it stays unconfirmed."
    x_account_reconnect_needed = "X refused an OAuth 2.0 account's refresh token (its token lineage is lost): reconnect the account from Settings; its posts fail until then."
    bluesky_account_revoked    = "A Bluesky account's PDS refused its app password (or took the account down) when a session had to be opened: the account is flagged with the PDS's reason; connect it again with a new app password from Settings; its posts fail until then."
    x_thread_held              = "X refused a reply part of a thread (403, its reply restriction): the rest is held until a person posts it as separate posts or drops it."
    email_config               = "A workspace's SMTP settings are unusable (authentication, TLS mode, host): its batches cannot send."
    email_bad_task             = "send_email received a task it cannot parse (a bug or a tampered queue)."
    email_feedback             = "A workspace's bounce mailbox cannot be read (connection, TLS, login, folder): bounces and complaints after delivery are not being processed."
    email_reputation           = "A workspace's complaint or bounce rate neared or reached its line (Gmail: complaints under 0.1 %, never 0.3 %); at the pause line its campaigns were paused."
    email_import_failed        = "A background contact import gave up on a chunk whose tasks kept getting lost or failing: the import is marked failed."
    import_bad_task            = "import_contacts received a task it cannot parse (a bug or a tampered queue)."
    bounces_bad_task           = "read_bounces received a task it cannot parse (a bug or a tampered queue)."
    ads_publish_failed         = "A job ad could not be published to Meta or Google Ads."
    ads_status_sync_failed     = "Pausing, resuming or archiving an ad on its platform failed."
    ads_task_gave_up           = "An ads task exhausted its deferrals and retries."
    bad_task                   = "A worker (ads, segmentation) received a task it cannot parse."
    autopilot_failed           = "An autopilot campaign's generation run failed: its plan is not being refilled."
    metrics_bad_task           = "collect_metrics received a task it cannot parse."
    metrics_budget_exhausted   = "The X read budget for metrics is spent: metrics stop until the budget resets."
    metrics_pull_failed        = "Pulling X metrics for an account failed."
    metrics_sandbox_refused    = "A sandbox account reached metrics collection in production and was refused."
  }

  alert_policies = merge(
    {
      for t, doc in local.alert_types : t => {
        doc    = "${doc}\n\nLogs: jsonPayload.alert=\"${t}\". The entry names the workspace and item; its `reason` field says why."
        filter = "${local.alert_filter_base} AND jsonPayload.alert=\"${t}\""
        labels = tomap({ workspace_id = "EXTRACT(jsonPayload.workspace_id)" })
      }
    },
    {
      other = {
        doc = "An ERROR entry with an `alert` type that has no policy of its own yet."
        filter = join(" AND ", concat(
          ["${local.alert_filter_base} AND jsonPayload.alert:*"],
          [for t in keys(local.alert_types) : "NOT jsonPayload.alert=\"${t}\""],
        ))
        labels = tomap({ alert = "EXTRACT(jsonPayload.alert)" })
      }
    },
  )

  alert_filter_base = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^${local.prefix}-\" AND severity>=ERROR"
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "Herald alerts to ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }
}

resource "google_monitoring_alert_policy" "alert" {
  for_each = local.alert_policies

  project               = var.project_id
  display_name          = "Herald: ${each.key}"
  combiner              = "OR"
  notification_channels = [for c in google_monitoring_notification_channel.email : c.id]

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }

  conditions {
    display_name = "log entry with alert=${each.key}"
    condition_matched_log {
      filter           = each.value.filter
      label_extractors = each.value.labels
    }
  }

  alert_strategy {
    # Log-match policies need a notification rate limit; one mail per 5 minutes per policy.
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "86400s"
  }

  depends_on = [google_project_service.enabled]
}
