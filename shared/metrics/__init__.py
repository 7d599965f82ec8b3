"""Metrics and analytics: X post metrics over time, email engagement rollups, ad
performance, best time to post, dashboard queries and CSV exports.

Modules (all light at import time; tweepy is imported inside the X pull only):
- `model`: collection names, document ids, day keys.
- `schedule`: the decaying pull frequency of a post (hourly, then daily, then done).
- `dispatch`: the dispatch source that finds metric pulls and sweeps due;
  `worker`: collect_metrics' actions.
- `x_pull`: the worker that reads X public metrics for one account's posts;
  `x_api`: the tweepy reads and the sandbox's synthetic readings; `budget`: the
  monthly X read budget; `x_daily`: the X part of the day rollups.
- `email_rollups`: per-day and per-campaign email rollups, recomputed from events.
- `best_time`: engagement by hour of week per account.
- `ads_tasks`: the ad-insights task contract with the ads function, and the fold of
  its `ad_insights` rows into the day rollups.
- `dashboards`: read-only queries for the API (rollups only).
- `csv_export`: streamed CSV of every table, paged with cursors, formula injection neutralized.
"""
