# One Cloud Tasks queue per kind (shared/settings.py QUEUE_KINDS); queue id =
# HERALD_QUEUE_PREFIX + kind. Retries here cover a worker that crashed or answered
# non-2xx; deliberate deferrals (X 429 reset, SMTP 4xx ladder, ad platform rate
# limits) are re-enqueued by the code with schedule_time and do not spend these.

locals {
  queues = {
    # post_tweet: X 5xx / connection errors before the request was sent are retried
    # with backoff (5 s doubling to 5 min); a post is never retried after an unknown
    # outcome (it goes `unconfirmed`), so retries cannot double-post.
    tweets = {
      rate        = 50
      concurrency = 50
      retry = {
        max_attempts  = 8
        min_backoff   = "5s"
        max_backoff   = "300s"
        max_doublings = 5
      }
    }
    # send_email: per-recipient 4xx deferrals follow the ladder 30 s, 1 min, 1 h in
    # code; the task-level retry of a failed batch uses the same ladder's shape
    # (30 s, 60 s, then linear steps capped at 1 h).
    emails = {
      rate        = 10
      concurrency = 10
      retry = {
        max_attempts  = 6
        min_backoff   = "30s"
        max_backoff   = "3600s"
        max_doublings = 1
      }
    }
    # import_contacts: one task per chunk of a large contact import. The writes are
    # idempotent, so a failed chunk is simply retried; the dispatcher also re-enqueues a
    # chunk whose task was lost (shared/email/import_chunks.py).
    imports = {
      rate        = 10
      concurrency = 10
      retry = {
        max_attempts  = 6
        min_backoff   = "10s"
        max_backoff   = "600s"
        max_doublings = 4
      }
    }
    # publish_ads / segment / ad insights: Meta and Google Ads rate limits defer the
    # work in code; crashes retry slowly so a rate-limited platform is not hammered.
    ads = {
      rate        = 2
      concurrency = 5
      retry = {
        max_attempts  = 10
        min_backoff   = "60s"
        max_backoff   = "3600s"
        max_doublings = 4
      }
    }
    # generate (autopilot runs enqueued by dispatch): Gemini 429/5xx are retried with
    # backoff inside the call; a failed run is retried a few times, then the next
    # hour's run takes over.
    generate = {
      rate        = 1
      concurrency = 3
      retry = {
        max_attempts  = 3
        min_backoff   = "60s"
        max_backoff   = "600s"
        max_doublings = 2
      }
    }
    # collect_metrics fan-out: reads are billed per call, so the rate is modest and
    # a failed page is retried a few times within the next hour.
    metrics = {
      rate        = 5
      concurrency = 5
      retry = {
        max_attempts  = 5
        min_backoff   = "30s"
        max_backoff   = "900s"
        max_doublings = 3
      }
    }
  }
}

module "queue" {
  source   = "./modules/queue"
  for_each = local.queues

  project_id                = var.project_id
  region                    = var.region
  name                      = "${local.prefix}-${each.key}"
  max_dispatches_per_second = each.value.rate
  max_concurrent_dispatches = each.value.concurrency
  retry                     = each.value.retry

  enqueuers = {
    for fn, cfg in local.functions : fn => google_service_account.function[fn].member
    if contains(cfg.enqueues, each.key)
  }

  depends_on = [google_project_service.enabled]
}
