"""The local stand-in for Cloud Scheduler: POSTs to dispatch on every minute boundary
(or every `--tick` seconds), with the headers Cloud Scheduler sends."""

from __future__ import annotations

import argparse
import signal
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime


def call_dispatch(url: str, job: str = "herald-dispatch", timeout: float = 60) -> int:
    return post_dispatch(url, job, timeout)[0]


def post_dispatch(url: str, job: str = "herald-dispatch", timeout: float = 60) -> tuple[int, bytes]:
    """One Cloud Scheduler call: the HTTP status (0 when unreachable) and the body."""
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    req = urllib.request.Request(  # noqa: S310 - URL is the local dispatch function
        url,
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Google-Cloud-Scheduler",
            "X-CloudScheduler": "true",
            "X-CloudScheduler-JobName": job,
            "X-CloudScheduler-ScheduleTime": now,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0, b""


def next_boundary(now: float, tick: float) -> float:
    return (now // tick + 1) * tick


def run(url: str, tick: float, stop: threading.Event, jobs: dict[str, str] | None = None) -> None:
    """Call `url` (and any extra {job: url}) at each multiple of `tick` seconds until stopped."""
    targets = {"herald-dispatch": url, **(jobs or {})}
    while not stop.is_set():
        if stop.wait(max(0.0, next_boundary(time.time(), tick) - time.time())):
            return
        for job, target in targets.items():
            status = call_dispatch(target, job)
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            print(f"{stamp} scheduler: {job} -> {status or 'unreachable'}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--tick", type=float, default=60.0)
    parser.add_argument("--job", action="append", default=[], help="extra NAME=URL to call")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    jobs = dict(j.split("=", 1) for j in args.job)
    run(args.url, args.tick, stop, jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
