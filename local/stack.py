"""Starts and stops the whole system on one machine, everything bound to 127.0.0.1.

Used by `herald dev` (foreground, Ctrl-C stops everything) and by the end-to-end test
fixtures (free ports, a per-session data directory). Every child runs in its own
process group with a parent-death signal, so no process outlives the stack.

Over 400 lines because the processes it starts depend on each other's ports,
environment and readiness; one module orders their start and their stop.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from local.tasks.config import load as load_queues
from shared.settings import FUNCTION_NAMES, LOCAL_ADMIN_PORT, LOCAL_FUNCTION_PORTS, Settings

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# Google's own Firestore emulator (Debian google-cloud-cli-firestore-emulator): it enforces
# Firestore's limits, cursors and transaction isolation as Cloud Firestore does.
FIRESTORE_JAR = Path(
    os.environ.get(
        "HERALD_FIRESTORE_EMULATOR_JAR",
        "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    )
)
QUEUE_PREFIX = Settings().queue_prefix  # queue id = prefix + kind, as HERALD_QUEUE_PREFIX
EXPORT_DIR = "firestore-export"  # under data_dir: the emulator's own export of the demo


class StackError(RuntimeError):
    pass


def function_command(name: str, port: int) -> list[str]:
    """functions-framework serving functions/<name>/main.py on 127.0.0.1:port."""
    return [
        str(VENV_BIN / "functions-framework"),
        "--target", name,
        "--source", str(ROOT / "functions" / name / "main.py"),
        "--signature-type", "http",
        "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


_handed_out: set[int] = set()


def free_port() -> int:
    """A free port BELOW the kernel's ephemeral range.

    A port the kernel picked (bind to 0) and we released can be handed by the kernel to
    the next bind(0) or outgoing connection of any process before our service binds it:
    the Java Firestore emulator alone binds a random port at start. Ports outside the
    ephemeral range are never handed out that way, so a free one stays free.
    """
    low, _ = _ephemeral_range()
    floor = 10_000 if low > 12_000 else 1_024
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(floor, low)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise StackError("no free port below the ephemeral range")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


# Children get SIGTERM if the stack's process dies (even by SIGKILL), so nothing is left
# behind. setpriv (util-linux) sets that before exec; a `preexec_fn` would instead force a
# real fork() of a process that has gRPC threads, whose at-fork handler can abort the child.
SETPRIV = shutil.which("setpriv")


def _with_parent_death_signal(argv: list[str]) -> list[str]:
    return [SETPRIV, "--pdeathsig", "TERM", "--", *argv] if SETPRIV else argv


@dataclass
class Ports:
    firestore: int
    tasks: int
    smtp: int
    admin: int
    functions: dict[str, int]

    @classmethod
    def fixed(cls, base: int = 8680) -> Ports:
        return cls(
            firestore=base + 1,
            tasks=base + 2,
            smtp=2525,
            admin=LOCAL_ADMIN_PORT,
            functions=dict(LOCAL_FUNCTION_PORTS),
        )

    @classmethod
    def free(cls) -> Ports:
        return cls(
            firestore=free_port(),
            tasks=free_port(),
            smtp=free_port(),
            admin=free_port(),
            functions={name: free_port() for name in FUNCTION_NAMES},
        )

    def all(self) -> dict[str, int]:
        return {
            "firestore": self.firestore,
            "tasks": self.tasks,
            "smtp": self.smtp,
            "admin": self.admin,
            **self.functions,
        }


@dataclass
class StackConfig:
    ports: Ports
    data_dir: Path
    project_id: str = "herald-local"
    region: str = "local"
    tick_s: float = 60.0
    scheduler: bool = True
    smtp_sink: bool = True
    admin: bool = True
    functions: tuple[str, ...] = FUNCTION_NAMES
    snapshot: bool = False  # save Firestore state on stop and restore it on start
    quiet: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.services: list[Service] = []
        self._logs: list[IO[bytes]] = []

    # -- environment ------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.config.ports.functions[name]}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.config.ports.admin}"

    @property
    def mail_dir(self) -> Path:
        return self.config.data_dir / "mail"

    def env(self) -> dict[str, str]:
        """The environment every function process (and an in-process test client) uses."""
        c = self.config
        env = {
            "HERALD_ENV": "local",
            "HERALD_SANDBOX": "1",
            "GOOGLE_CLOUD_PROJECT": c.project_id,
            "HERALD_REGION": c.region,
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{c.ports.firestore}",
            "HERALD_TASKS_EMULATOR_HOST": f"127.0.0.1:{c.ports.tasks}",
            "HERALD_SECRETS_DIR": str(c.data_dir / "secrets"),
            "HERALD_MEDIA_DIR": str(c.data_dir / "media"),
            "HERALD_TRACK_URL": self.url("track"),
            "HERALD_ADMIN_ORIGIN": self.admin_url,
            "HERALD_LOCAL_SMTP": f"127.0.0.1:{c.ports.smtp}",
            "HERALD_TRUSTED_PROXIES": "0",  # browsers reach the functions directly
            **{f"HERALD_URL_{n.upper()}": self.url(n) for n in FUNCTION_NAMES},
            **c.extra_env,
        }
        return env

    def function_env(self, name: str) -> dict[str, str]:
        """env() plus the worker threads of one function process.

        functions-framework serves with 4 threads per core; a function fed by a queue gets
        at least that queue's max_concurrent_dispatches, so a slow answer holds one thread
        as it holds one instance in production, not a place in a line of the others.
        """
        fed = sum(q.max_concurrent_dispatches for q in load_queues().values() if q.function == name)
        return {**self.env(), "THREADS": str(max((os.cpu_count() or 1) * 4, fed))}

    # -- lifecycle --------------------------------------------------------------------

    def _spawn(
        self, name: str, argv: list[str], url: str, env: dict[str, str] | None = None
    ) -> None:
        log_dir = self.config.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        out: IO[bytes] = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(out)
        proc = subprocess.Popen(
            _with_parent_death_signal(argv),
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() signals the whole group
        )
        self.services.append(Service(name, url, proc, argv, env))

    def _wait_port(self, name: str, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        service = next(s for s in self.services if s.name == name)
        while time.monotonic() < deadline:
            if service.process.poll() is not None:
                raise StackError(
                    f"{name} exited with {service.process.returncode}; see "
                    f"{self.config.data_dir / 'logs' / (name + '.log')}"
                )
            if port_open(port):
                return
            time.sleep(0.05)
        raise StackError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")

    def check_prerequisites(self) -> None:
        missing = []
        if not FIRESTORE_JAR.exists():
            missing.append(f"{FIRESTORE_JAR} (run `make system`)")
        if not shutil.which("java"):
            missing.append("java (run `make system`)")
        if missing:
            raise StackError("missing: " + ", ".join(missing))
        busy = [f"{n}:{p}" for n, p in self.config.ports.all().items() if port_open(p)]
        if busy:
            raise StackError("ports already in use: " + ", ".join(busy))

    def start(self) -> Stack:
        c = self.config
        self.check_prerequisites()
        c.data_dir.mkdir(parents=True, exist_ok=True)
        env = self.env()
        try:
            # The JVM itself, not the package's wrapper script: a signal to the stack's
            # child then reaches the emulator, and stop() waits for the JVM to exit.
            fs_argv = [
                "java",
                "-Duser.language=en",  # as the wrapper script: English error messages
                "-cp",
                str(FIRESTORE_JAR),
                "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
                "start",
                "--host=127.0.0.1",
                f"--port={c.ports.firestore}",
            ]
            metadata = self._export_metadata()
            if c.snapshot and metadata is not None:
                fs_argv.append(f"--import-data={metadata}")
            self._spawn("firestore", fs_argv, f"127.0.0.1:{c.ports.firestore}")
            # local/tasks: queues configured from infra/queues.json, as Terraform deploys them.
            tasks_argv = [
                sys.executable,
                "-m",
                "local.tasks",
                "--port",
                str(c.ports.tasks),
                "--parent",
                f"projects/{c.project_id}/locations/{c.region}",
                "--prefix",
                QUEUE_PREFIX,
                "--quiet",
            ]
            self._spawn("cloud-tasks", tasks_argv, f"127.0.0.1:{c.ports.tasks}")
            if c.smtp_sink:
                self._spawn(
                    "smtp-sink",
                    [
                        sys.executable,
                        "-m",
                        "local.smtp_sink",
                        "--port",
                        str(c.ports.smtp),
                        "--dir",
                        str(self.mail_dir),
                    ],
                    f"smtp://127.0.0.1:{c.ports.smtp}",
                )
            for name in c.functions:
                self._spawn(
                    name,
                    function_command(name, c.ports.functions[name]),
                    self.url(name),
                    self.function_env(name),
                )
            if c.admin:
                self._spawn(
                    "admin",
                    [
                        sys.executable,
                        "-m",
                        "local.admin_server",
                        "--port",
                        str(c.ports.admin),
                        "--api-url",
                        self.url("api"),
                    ],
                    self.admin_url,
                    env,
                )
            self._wait_firestore()
            self._wait_port("cloud-tasks", c.ports.tasks)
            if c.smtp_sink:
                self._wait_port("smtp-sink", c.ports.smtp)
            for name in c.functions:
                self._wait_port(name, c.ports.functions[name])
            if c.admin:
                self._wait_port("admin", c.ports.admin)
            if c.scheduler and "dispatch" in c.functions:
                self._spawn(
                    "scheduler",
                    [
                        sys.executable,
                        "-m",
                        "local.scheduler",
                        "--url",
                        self.url("dispatch"),
                        "--tick",
                        str(c.tick_s),
                    ],
                    f"every {c.tick_s:g}s -> dispatch",
                )
        except BaseException:
            self.stop()
            raise
        return self

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL a service's process group (a crash, for fault-injection runs)."""
        service = self.service(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(10)

    def restart(self, name: str, port: int | None = None) -> None:
        """Start a killed (or running) service again with the same command and port."""
        service = self.service(name)
        if service.process.poll() is None:
            self.kill(name)
        self.services.remove(service)
        self._spawn(name, service.argv, service.url, service.env)
        if port is not None:
            self._wait_port(name, port)
            if service.url.startswith("http://"):
                self._wait_http(service.url)

    @staticmethod
    def _wait_http(url: str, timeout: float = 30.0) -> None:
        """An open port is not yet a serving worker (gunicorn forks it after binding)."""
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5):  # noqa: S310 - loopback
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it serves
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise StackError(f"{url} did not answer within {timeout:.0f}s")

    def _export_metadata(self) -> Path | None:
        """The overall_export_metadata file of the last saved export, if there is one."""
        found = sorted((self.config.data_dir / EXPORT_DIR).glob("*.overall_export_metadata"))
        return found[0] if found else None

    def _wait_firestore(self, timeout: float = 90.0) -> None:
        """The JVM opens its port before it serves: wait for the emulator's own "Ok"."""
        self._wait_port("firestore", self.config.ports.firestore, timeout)
        self._wait_http(f"http://127.0.0.1:{self.config.ports.firestore}/", timeout)

    def export_firestore(self) -> Path:
        """Save every document with the emulator's own export (restored on the next start).

        The export goes to a fresh directory that then replaces the previous one, so a
        failed export never leaves a half-written demo behind.
        """
        import json
        import urllib.request

        c = self.config
        final = c.data_dir / EXPORT_DIR
        staging = c.data_dir / f"{EXPORT_DIR}.new"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        request = urllib.request.Request(
            f"http://127.0.0.1:{c.ports.firestore}/emulator/v1/projects/{c.project_id}:export",
            data=json.dumps(
                {
                    "database": f"projects/{c.project_id}/databases/(default)",
                    "export_directory": str(staging),
                    "export_name": "herald",
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=120):  # noqa: S310 - loopback
            pass
        # The emulator writes <staging>/herald/herald.overall_export_metadata and data.
        old = c.data_dir / f"{EXPORT_DIR}.old"
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        (staging / "herald").rename(final)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def stop(self, timeout: float = 8.0) -> None:
        # Scheduler first, then functions; Firestore last, after its export if asked.
        firestore = [s for s in self.services if s.name == "firestore"]
        self._terminate([s for s in self.services if s.name != "firestore"], timeout)
        if self.config.snapshot and any(s.process.poll() is None for s in firestore):
            try:
                print(f"firestore: saved to {self.export_firestore()}", flush=True)
            except OSError as exc:  # the data is lost only if we say nothing
                print(f"firestore: export failed ({exc}); this run's data is lost", flush=True)
        self._terminate(firestore, timeout)
        self.services.clear()
        for fh in self._logs:
            fh.close()
        self._logs.clear()

    @staticmethod
    def _terminate(services: list[Service], timeout: float) -> None:
        for service in reversed(services):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for service in services:
            try:
                service.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait(5)

    def table(self) -> str:
        rows = [(s.name, s.url, str(s.process.pid)) for s in self.services]
        width = max(len(r[0]) for r in rows)
        uwidth = max(len(r[1]) for r in rows)
        lines = [f"{'service':<{width}}  {'address':<{uwidth}}  pid", "-" * (width + uwidth + 9)]
        lines += [f"{n:<{width}}  {u:<{uwidth}}  {p}" for n, u, p in rows]
        return "\n".join(lines)


@contextlib.contextmanager
def running(config: StackConfig) -> Iterator[Stack]:
    stack = Stack(config).start()
    try:
        yield stack
    finally:
        stack.stop()
