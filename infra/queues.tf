# One Cloud Tasks queue per kind (shared/settings.py QUEUE_KINDS); queue id =
# HERALD_QUEUE_PREFIX + kind. The settings are in queues.json, which the local Cloud Tasks
# (local/tasks) reads too, so `make dev` and the tests dispatch as production does.
#
# Each queue feeds exactly one function ("function" in queues.json) and never dispatches
# more at once than that function can take (max instances × per-instance concurrency):
# beyond it Cloud Run answers 429, and every 429 spends one of the task's attempts.
#
# Retries cover a worker that crashed or answered non-2xx; deliberate deferrals (X 429
# reset, SMTP 4xx ladder, ad platform rate limits) are re-enqueued by the code with
# schedule_time and do not spend them. Why each queue's numbers:
# - tweets (post_tweet): X 5xx / connection errors before the request was sent are
#   retried with backoff (5 s doubling to 5 min); a post is never retried after an unknown
#   outcome (it goes `unconfirmed`), so retries cannot double-post.
# - emails (send_email): per-recipient 4xx deferrals follow the ladder 30 s, 1 min, 1 h in
#   code; the task-level retry of a failed batch uses the same ladder's shape (30 s, 60 s,
#   then linear steps capped at 1 h).
# - imports (import_contacts: one task per chunk of a large contact import): the writes
#   are idempotent, so a failed chunk is simply retried (10 s doubling to 10 min); the
#   dispatcher also re-enqueues a chunk whose task was lost (shared/email/import_chunks.py).
#   10 at once: each chunk owns its member pages, so none contend.
# - bounces (read_bounces: one run per enabled bounce mailbox and minute): a mailbox that
#   cannot be read is an alert, not a retry; a run that failed otherwise is retried twice
#   within a minute (10 s, 20 s), after which the next minute's run takes over. 5 at once:
#   each waits on a workspace's IMAP server.
# - ads (publish_ads: publishes, status changes, ad insights): Meta and Google Ads rate
#   limits defer the work in code; crashes retry slowly so a rate-limited platform is not
#   hammered.
# - segments (segment, k-means on our own data): no outside service to spare, so a failed
#   run is retried sooner and given up within ~8 min, when the run is marked failed.
# - generate (autopilot runs enqueued by dispatch): Gemini 429/5xx are retried with backoff
#   inside the call; a failed run is retried a few times, then the next hour's run takes
#   over.
# - metrics (collect_metrics fan-out): reads are billed per call, so the rate is modest and
#   a failed page is retried a few times within the next hour.

locals {
  queues = jsondecode(file("${path.module}/queues.json"))

  # An operator's var.max_instances lowers a function's capacity: its queue follows.
  queue_concurrency = {
    for kind, q in local.queues : kind => min(
      q.max_concurrent_dispatches,
      lookup(var.max_instances, q.function, local.functions[q.function].max) * local.functions[q.function].concurrency,
    )
  }
}

module "queue" {
  source   = "./modules/queue"
  for_each = local.queues

  project_id                = var.project_id
  region                    = var.region
  name                      = "${local.prefix}-${each.key}"
  max_dispatches_per_second = each.value.max_dispatches_per_second
  max_concurrent_dispatches = local.queue_concurrency[each.key]
  retry                     = each.value.retry

  enqueuers = {
    for fn, cfg in local.functions : fn => google_service_account.function[fn].member
    if contains(cfg.enqueues, each.key)
  }

  depends_on = [google_project_service.enabled]
}
