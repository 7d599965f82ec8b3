"""`herald dev` as a user runs it: it starts, a second one is refused, Ctrl-C (SIGINT)
stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local.stack import ROOT
from tests.e2e.test_stack import _group_members

pytestmark = pytest.mark.e2e

HERALD = [sys.executable, "-m", "local.cli", "dev", "--free-ports", "--no-snapshot"]


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seen.append(line)
            if marker in line:
                return "".join(seen)
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{marker!r} not seen; output so far:\n{''.join(seen)}")


def _user_add(name: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`herald user add` from another terminal (no emulator host in its environment)."""
    return subprocess.run(
        [sys.executable, "-m", "local.cli", "user", "add", name],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "HERALD_NEW_PASSWORD": "a long enough password"},
    )


def test_dev_runs_refuses_a_second_and_stops_clean_on_sigint(tmp_path: Path) -> None:
    env = {**os.environ, "HERALD_DEV_DIR": str(tmp_path)}
    # Started as a shell's background job would be: with SIGINT ignored. `herald dev`
    # must still stop on it (a terminal's Ctrl-C), so it installs its own handler.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        first = subprocess.Popen(
            HERALD, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        out = _read_until(first, "Ctrl-C stops everything", 120)
        assert "Herald is running on localhost" in out and "admin page" in out
        pids = [int(p) for p in re.findall(r"^\S+\s+\S+\s+(\d+)\s*$", out, re.M)]
        assert len(pids) >= 10, out  # emulators, SMTP sink, every function, admin, scheduler
        members = set().union(*(_group_members(p) for p in pids))
        assert len(members) >= len(pids)

        second = subprocess.run(
            HERALD, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert "already running" in second.stderr and str(first.pid) in second.stderr

        # Another terminal: `herald user add` finds the running stack by itself.
        user_env = {k: v for k, v in env.items() if k != "FIRESTORE_EMULATOR_HOST"}
        added = _user_add("founder", user_env)
        assert added.returncode == 0, added.stderr
        assert "user_id" in added.stdout and "workspace_id" in added.stdout

        first.send_signal(signal.SIGINT)
        rest = first.communicate(timeout=60)[0]
        assert first.returncode == 0, rest
        assert "all processes stopped" in rest
        time.sleep(0.3)
        left = set().union(*(_group_members(p) for p in pids)) & members
        assert not left, f"left behind: {left}"
        # With nothing running, it says what to do instead of hanging on a cloud default.
        lonely = _user_add("second", user_env)
        assert lonely.returncode == 1 and "make dev" in lonely.stderr
    finally:
        if first.poll() is None:
            first.kill()


def test_children_die_with_a_killed_stack(tmp_path: Path) -> None:
    """Even SIGKILL of the supervising process leaves nothing (parent-death signal)."""
    script = (
        "import sys, time, pathlib\n"
        "from local.stack import Stack, StackConfig, Ports\n"
        f"s = Stack(StackConfig(ports=Ports.free(), data_dir=pathlib.Path({str(tmp_path)!r}),"
        " functions=('track',), scheduler=False, admin=False)).start()\n"
        "print(' '.join(str(x.process.pid) for x in s.services), flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    pids = [int(p) for p in proc.stdout.readline().split()]
    members = set().union(*(_group_members(p) for p in pids))
    assert len(members) >= 4
    proc.kill()
    proc.wait(10)
    deadline = time.monotonic() + 15
    left = members
    while time.monotonic() < deadline and left:
        time.sleep(0.2)
        left = set().union(*(_group_members(p) for p in pids)) & members
    assert not left, f"left behind after SIGKILL of the stack: {left}"
