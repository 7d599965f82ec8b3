"""`python -m local.tasks --port N --parent projects/P/locations/L [--prefix herald-]`:
serve every queue of infra/queues.json (queue id = prefix + kind) on 127.0.0.1:N."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from local.tasks.config import QUEUES_FILE, load
from local.tasks.server import TasksServer


async def serve(server: TasksServer, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bound = await server.start(port)
    print(f"cloud tasks listening on 127.0.0.1:{bound}: {', '.join(server.queues)}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.tasks", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--parent", required=True, help="projects/P/locations/L")
    parser.add_argument("--prefix", default="herald-", help="queue id = prefix + kind")
    parser.add_argument("--config", type=Path, default=QUEUES_FILE)
    parser.add_argument("--quiet", action="store_true", help="log only failed attempts")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    queues = {
        f"{args.parent}/queues/{args.prefix}{kind}": settings
        for kind, settings in load(args.config).items()
    }
    asyncio.run(serve(TasksServer(queues), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
