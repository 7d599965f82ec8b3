"""A local Cloud Tasks that behaves like the real service where Herald depends on it.

config: queue settings from infra/queues.json; queue: scheduling, rate limits, retries
and name dedup (pure); delivery: one HTTP attempt; server: the gRPC API and dispatchers.
`python -m local.tasks` runs it (local/stack.py starts it as the `cloud-tasks` service).
"""
