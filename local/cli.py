"""`herald`: the local stack and operator commands.

herald dev [--tick SECONDS] [--fresh]     run the whole system on localhost
herald user add USERNAME [--workspace NAME] [--role owner]   create a user (asks for a password)
herald user add USERNAME --no-workspace   only the account: owners then invite it
"""

from __future__ import annotations

import argparse
import fcntl
import getpass
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import IO

from local.stack import EXPORT_DIR, ROOT, Ports, Stack, StackConfig, StackError

# HERALD_DEV_DIR lets tests run a second, isolated `herald dev`.
DATA_DIR = Path(os.environ.get("HERALD_DEV_DIR") or ROOT / ".herald")


def _acquire_dev_lock(path: Path) -> IO[str] | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "{}"
        fh.close()
        info = json.loads(holder) if holder.startswith("{") else {}
        print(
            "Herald is already running"
            + (f" (pid {info['pid']}, admin page {info.get('admin')})" if "pid" in info else "")
            + ".\nStop it with Ctrl-C in its terminal (or `kill -INT <pid>`), then run "
            "`make dev` again.",
            file=sys.stderr,
        )
        return None
    return fh


def cmd_dev(args: argparse.Namespace) -> int:
    lock = _acquire_dev_lock(DATA_DIR / "dev.lock")
    if lock is None:
        return 1
    config = StackConfig(
        ports=Ports.free() if args.free_ports else Ports.fixed(),
        data_dir=DATA_DIR,
        tick_s=args.tick,
        snapshot=not args.no_snapshot,
    )
    if args.fresh:
        shutil.rmtree(DATA_DIR / EXPORT_DIR, ignore_errors=True)
    stack = Stack(config)
    started = time.monotonic()
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    # Installed explicitly: a shell may start us with SIGINT ignored (a background job).
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start()
    except StackError as exc:
        print(f"herald dev: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped during start-up", file=sys.stderr)
        return 130
    lock.seek(0)
    lock.truncate()
    # Other `herald` commands (user add) find the running stack's emulators here.
    lock.write(json.dumps({"pid": os.getpid(), "admin": stack.admin_url, "env": stack.env()}))
    lock.flush()
    print(f"\nHerald is running on localhost (started in {time.monotonic() - started:.1f}s)\n")
    print(stack.table())
    print(
        f"\nadmin page   {stack.admin_url}\n"
        f"mail sink    {stack.mail_dir} (every message as .eml)\n"
        f"logs         {DATA_DIR / 'logs'}\n"
        f"data         Google's Firestore emulator, exported to {DATA_DIR / EXPORT_DIR} on stop"
        " (`herald dev --fresh` starts empty)\n"
        "sandbox      ON: posts (X, Bluesky, Mastodon) and ad publishes are recorded,"
        " not published\n"
        "\nCtrl-C stops everything.",
        flush=True,
    )
    try:
        while True:
            for service in stack.services:
                if service.process.poll() is not None:
                    print(
                        f"herald dev: {service.name} exited with "
                        f"{service.process.returncode}; stopping",
                        file=sys.stderr,
                    )
                    raise KeyboardInterrupt
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
    finally:
        stack.stop()
        print("all processes stopped", flush=True)
    return 0


def _alive(pid: object) -> bool:
    try:
        number = int(str(pid))
        if number <= 0:  # 0 and negatives name process groups
            return False
        os.kill(number, 0)
    except (OSError, ValueError):
        return False
    return True


def _use_running_stack() -> str | None:
    """Point this process at the running `herald dev` unless told otherwise.

    Returns an error message when there is nothing to talk to.
    """
    if os.environ.get("HERALD_ENV") == "production" or os.environ.get("FIRESTORE_EMULATOR_HOST"):
        return None
    try:
        info = json.loads((DATA_DIR / "dev.lock").read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    env = info.get("env") if isinstance(info, dict) else None
    if not isinstance(env, dict) or not _alive(info.get("pid")):
        return (
            "no local Herald is running: start it with `make dev`, or set HERALD_ENV=production "
            "and GOOGLE_CLOUD_PROJECT to work on a deployment"
        )
    os.environ.update({str(k): str(v) for k, v in env.items()})
    return None


def cmd_user_add(args: argparse.Namespace) -> int:
    from shared.clock import SystemClock
    from shared.runtime import get_runtime
    from shared.tenancy import Role, TenancyError, create_user, create_workspace, set_role

    problem = _use_running_stack()
    if problem:
        print(f"herald user add: {problem}", file=sys.stderr)
        return 1
    password = os.environ.get("HERALD_NEW_PASSWORD") or ""
    if not password:
        password = getpass.getpass("Password (10+ characters): ")
        # Typed blind: a typo here would lock the first owner out.
        if getpass.getpass("Repeat it: ") != password:
            print("herald user add: the passwords differ; nothing was created", file=sys.stderr)
            return 1
    runtime = get_runtime()
    now = SystemClock().now()
    try:
        user_id = create_user(runtime.db, args.username, password, now)
        workspace_id: str | None
        if args.no_workspace:
            workspace_id = None
        elif args.workspace_id:
            set_role(runtime.db, args.workspace_id, user_id, Role(args.role), now)
            workspace_id = args.workspace_id
        else:
            workspace_id = create_workspace(runtime.db, args.workspace, user_id, now, args.timezone)
    except TenancyError as exc:
        print(f"herald user add: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"user_id": user_id, "workspace_id": workspace_id}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="herald", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the whole system on localhost")
    dev.add_argument(
        "--tick",
        type=float,
        default=60.0,
        help="seconds between scheduler calls (Cloud Scheduler: 60)",
    )
    dev.add_argument("--fresh", action="store_true", help="start with an empty database")
    dev.add_argument(
        "--no-snapshot", action="store_true", help="do not save or restore the database"
    )
    dev.add_argument(
        "--free-ports",
        action="store_true",
        help="pick free ports instead of the fixed layout (tests)",
    )
    dev.set_defaults(func=cmd_dev)
    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user and, by default, their workspace")
    add.add_argument("username")
    add.add_argument("--workspace", default="My workspace")
    add.add_argument("--workspace-id", help="join an existing workspace instead")
    add.add_argument(
        "--no-workspace",
        action="store_true",
        help="create only the account (a workspace owner then invites it by username)",
    )
    add.add_argument("--role", default="owner", choices=["owner", "editor", "viewer"])
    add.add_argument("--timezone", default="UTC")
    add.set_defaults(func=cmd_user_add)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
