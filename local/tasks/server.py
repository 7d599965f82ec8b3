"""The Cloud Tasks API subset Herald uses, served over gRPC on 127.0.0.1, with delivery.

Methods: CreateTask, GetTask, ListTasks, DeleteTask, GetQueue, ListQueues (the others
answer UNIMPLEMENTED). Messages are google-cloud-tasks' own proto-plus classes, so the
real client talks to it unchanged. Each queue has a dispatcher on one asyncio loop; every
attempt is its own coroutine, so a slow answer holds only its own slot of the queue's
max_concurrent_dispatches. State is in memory: a restart loses every task, which is what
bench/chaos.py relies on to exercise the dispatcher's recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import grpc
from google.cloud import tasks_v2
from google.protobuf import empty_pb2
from google.rpc import status_pb2

from local.tasks.config import QueueSettings
from local.tasks.delivery import deliver
from local.tasks.queue import DEDUP_WINDOW, AlreadyExists, Attempt, NotFound, Outcome, Queue, Task

SERVICE = "google.cloud.tasks.v2.CloudTasks"
TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
DEFAULT_DEADLINE, MIN_DEADLINE, MAX_DEADLINE = 600.0, 15.0, 1800.0  # HTTP tasks
MAX_AHEAD = 30 * 86400.0  # schedule_time at most 30 days ahead
MAX_TASK_BYTES = 1024 * 1024
View = tasks_v2.Task.View
log = logging.getLogger("herald.tasks")
T = TypeVar("T")


class InvalidArgument(ValueError):
    pass


def _timestamp(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _status_code(attempt: Attempt) -> int:
    if attempt.status is None:
        code = grpc.StatusCode.DEADLINE_EXCEEDED
        if attempt.reason != "DEADLINE_EXCEEDED":
            code = grpc.StatusCode.UNAVAILABLE
        return int(code.value[0])
    from google.api_core import exceptions

    if 200 <= attempt.status < 300:
        return 0
    error = exceptions.from_http_status(attempt.status, attempt.reason)
    return int(error.grpc_status_code.value[0]) if error.grpc_status_code else 2


def _attempt_pb(attempt: Attempt) -> tasks_v2.Attempt:
    out = tasks_v2.Attempt(
        schedule_time=_timestamp(attempt.scheduled_at),
        dispatch_time=_timestamp(attempt.dispatched_at),
    )
    if attempt.responded_at is not None:
        out.response_time = _timestamp(attempt.responded_at)
        out.response_status = status_pb2.Status(code=_status_code(attempt), message=attempt.reason)
    return out


def task_pb(task: Task, view: int = View.BASIC) -> tasks_v2.Task:
    """The API's view of a task (BASIC leaves out the body, as Cloud Tasks does)."""
    http = tasks_v2.HttpRequest(
        url=task.url, http_method=getattr(tasks_v2.HttpMethod, task.method), headers=task.headers
    )
    if view == View.FULL:
        http.body = task.body
    out = tasks_v2.Task(
        name=task.name,
        http_request=http,
        schedule_time=_timestamp(task.schedule_time),
        create_time=_timestamp(int(task.create_time)),  # "truncated to the nearest second"
        dispatch_deadline=timedelta(seconds=task.dispatch_deadline),
        dispatch_count=len(task.attempts),
        response_count=task.response_count,
        view=view or View.BASIC,
    )
    if task.attempts:
        out.first_attempt = _attempt_pb(task.attempts[0])
        out.last_attempt = _attempt_pb(task.attempts[-1])
    return out


def queue_pb(queue: Queue) -> tasks_v2.Queue:
    s, r = queue.settings, queue.settings.retry
    return tasks_v2.Queue(
        name=queue.name,
        rate_limits=tasks_v2.RateLimits(
            max_dispatches_per_second=s.max_dispatches_per_second,
            max_burst_size=s.max_burst_size,
            max_concurrent_dispatches=s.max_concurrent_dispatches,
        ),
        retry_config=tasks_v2.RetryConfig(
            max_attempts=r.max_attempts,
            max_retry_duration=timedelta(seconds=r.max_retry_duration),
            min_backoff=timedelta(seconds=r.min_backoff),
            max_backoff=timedelta(seconds=r.max_backoff),
            max_doublings=r.max_doublings,
        ),
        state=tasks_v2.Queue.State.RUNNING,
    )


class Dispatcher:
    """Sends one queue's due tasks, each attempt concurrently, within its limits."""

    def __init__(self, queue: Queue, server: TasksServer) -> None:
        self.queue = queue
        self.server = server
        self.wake = asyncio.Event()
        self._attempts: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        clock = self.server.clock
        while True:
            picked = self.queue.take_due(clock())
            if isinstance(picked, Task):
                attempt = asyncio.create_task(self._attempt(picked))
                self._attempts.add(attempt)
                attempt.add_done_callback(self._attempts.discard)
                continue
            self.wake.clear()
            timeout = None if picked is None else max(0.0, picked - clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def _attempt(self, task: Task) -> None:
        server = self.server
        assert server.session is not None
        try:
            outcome = await deliver(server.session, self.queue.id, task, server.clock)
        except Exception as exc:  # a bug here must not leave the slot taken forever
            log.exception("delivery of %s failed", task.id)
            outcome = Outcome(None, f"INTERNAL: {type(exc).__name__}")
        number = task.attempts[-1].number
        fate = self.queue.finish(task, outcome, server.clock())
        if fate == "retry":
            wait = task.schedule_time - server.clock()
            log.warning("%s attempt %d: %s; retry in %.1fs", task.id, number, outcome.reason, wait)
        elif fate == "gave up":
            log.error("%s gave up after %d attempts: %s", task.id, number, outcome.reason)
        else:
            log.info("%s attempt %d: %s (%s)", task.id, number, outcome.reason, fate)
        self.wake.set()

    async def stop(self) -> None:
        for attempt in list(self._attempts):
            attempt.cancel()
        await asyncio.gather(*self._attempts, return_exceptions=True)


def _log_crash(runner: asyncio.Task[None]) -> None:
    if not runner.cancelled() and runner.exception() is not None:
        log.critical("a queue's dispatcher stopped", exc_info=runner.exception())


class TasksServer:
    def __init__(
        self,
        queues: dict[str, QueueSettings],
        clock: Callable[[], float] = time.time,
        dedup_window: float = DEDUP_WINDOW,
        min_deadline: float = MIN_DEADLINE,
    ) -> None:
        """`queues`: full queue name (projects/P/locations/L/queues/Q) -> settings.
        `min_deadline` below Cloud Tasks' 15 s lets tests cut a hanging worker sooner."""
        self.clock = clock
        self.min_deadline = min_deadline
        now = clock()
        self.queues = {n: Queue(n, s, now, dedup_window) for n, s in queues.items()}
        self.session: aiohttp.ClientSession | None = None
        self._dispatchers = {n: Dispatcher(q, self) for n, q in self.queues.items()}
        self._runners: list[asyncio.Task[None]] = []
        self._grpc: grpc.aio.Server | None = None

    async def start(self, port: int = 0) -> int:
        """Serve on 127.0.0.1:port (0: a free one); returns the port."""
        # No pool limit (each queue's max_concurrent_dispatches is the limit) and no client
        # timeout (aiohttp's default 5 min would cut before the 10 min dispatch deadline).
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        self._runners = [asyncio.create_task(d.run()) for d in self._dispatchers.values()]
        for runner in self._runners:
            runner.add_done_callback(_log_crash)
        self._grpc = grpc.aio.server()
        self._grpc.add_generic_rpc_handlers((self._handlers(),))
        bound = self._grpc.add_insecure_port(f"127.0.0.1:{port}")
        await self._grpc.start()
        return bound

    async def stop(self) -> None:
        if self._grpc is not None:
            await self._grpc.stop(0.5)
        for runner in self._runners:
            runner.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        for dispatcher in self._dispatchers.values():
            await dispatcher.stop()
        if self.session is not None:
            await self.session.close()

    # -- the API ----------------------------------------------------------------------

    def queue(self, name: str) -> Queue:
        queue = self.queues.get(name)
        if queue is None:
            raise NotFound(f"queue {name} does not exist")
        return queue

    def _task_queue(self, task_name: str) -> Queue:
        return self.queue(task_name.rsplit("/tasks/", 1)[0])

    async def create_task(self, request: tasks_v2.CreateTaskRequest) -> tasks_v2.Task:
        queue = self.queue(request.parent)
        task = self._new_task(queue, request.task)
        queue.add(task, self.clock())
        self._dispatchers[queue.name].wake.set()
        return task_pb(task, request.response_view)

    async def get_task(self, request: tasks_v2.GetTaskRequest) -> tasks_v2.Task:
        return task_pb(self._task_queue(request.name).get(request.name), request.response_view)

    async def delete_task(self, request: tasks_v2.DeleteTaskRequest) -> empty_pb2.Empty:
        queue = self._task_queue(request.name)
        queue.delete(request.name, self.clock())
        self._dispatchers[queue.name].wake.set()
        return empty_pb2.Empty()

    async def list_tasks(self, request: tasks_v2.ListTasksRequest) -> tasks_v2.ListTasksResponse:
        tasks = sorted(self.queue(request.parent).tasks.values(), key=lambda t: t.schedule_time)
        start, size = self._page(request.page_token, request.page_size)
        page = tasks[start : start + size]
        token = str(start + size) if start + size < len(tasks) else ""
        return tasks_v2.ListTasksResponse(
            tasks=[task_pb(t, request.response_view) for t in page], next_page_token=token
        )

    async def get_queue(self, request: tasks_v2.GetQueueRequest) -> tasks_v2.Queue:
        return queue_pb(self.queue(request.name))

    async def list_queues(self, request: tasks_v2.ListQueuesRequest) -> tasks_v2.ListQueuesResponse:
        mine = [q for n, q in sorted(self.queues.items()) if n.startswith(request.parent + "/")]
        start, size = self._page(request.page_token, request.page_size)
        token = str(start + size) if start + size < len(mine) else ""
        return tasks_v2.ListQueuesResponse(
            queues=[queue_pb(q) for q in mine[start : start + size]], next_page_token=token
        )

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    def _page(token: str, size: int) -> tuple[int, int]:
        if token and not token.isdigit():
            raise InvalidArgument("page_token is not one this server gave")
        return int(token or 0), min(size or 1000, 1000)

    def _new_task(self, queue: Queue, pb: tasks_v2.Task) -> Task:
        if "http_request" not in pb:
            raise InvalidArgument("only HTTP tasks (http_request) are supported")
        http = pb.http_request
        if not re.match(r"^https?://", http.url):
            raise InvalidArgument(f"url must be http:// or https://, got {http.url!r}")
        now = self.clock()
        name = pb.name or f"{queue.name}/tasks/{uuid.uuid4().int % 10**19}"
        prefix, _, task_id = name.rpartition("/tasks/")
        if prefix != queue.name or not TASK_ID.match(task_id):
            raise InvalidArgument(
                f"task name must be {queue.name}/tasks/ID with ID of letters, digits, "
                f"'-' and '_' (at most 500): {name!r}"
            )
        deadline = DEFAULT_DEADLINE
        if pb.dispatch_deadline:
            deadline = pb.dispatch_deadline.total_seconds()
            if not self.min_deadline <= deadline <= MAX_DEADLINE:
                raise InvalidArgument(
                    f"dispatch_deadline must be between {self.min_deadline:g} s and 30 min"
                )
        at = pb.schedule_time.timestamp() if pb.schedule_time else now
        if at > now + MAX_AHEAD:
            raise InvalidArgument("schedule_time cannot be more than 30 days ahead")
        if tasks_v2.Task.pb(pb).ByteSize() > MAX_TASK_BYTES:
            raise InvalidArgument("a task is at most 1 MB")
        return Task(
            name=name,
            url=http.url,
            method=tasks_v2.HttpMethod(http.http_method or tasks_v2.HttpMethod.POST).name,
            headers=dict(http.headers),
            body=bytes(http.body),
            schedule_time=max(at, now),
            create_time=now,
            dispatch_deadline=deadline,
        )

    def _handlers(self) -> grpc.GenericRpcHandler:
        def unary(
            method: Callable[[Any], Awaitable[Any]], request_type: Any, response_type: Any
        ) -> grpc.RpcMethodHandler:
            async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await method(request)
                except NotFound as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
                except AlreadyExists as exc:
                    await context.abort(grpc.StatusCode.ALREADY_EXISTS, str(exc))
                except InvalidArgument as exc:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

            serialize = getattr(response_type, "serialize", None) or (
                lambda m: m.SerializeToString()
            )
            return grpc.unary_unary_rpc_method_handler(
                handle, request_deserializer=request_type.deserialize, response_serializer=serialize
            )

        t = tasks_v2
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "CreateTask": unary(self.create_task, t.CreateTaskRequest, t.Task),
                "GetTask": unary(self.get_task, t.GetTaskRequest, t.Task),
                "ListTasks": unary(self.list_tasks, t.ListTasksRequest, t.ListTasksResponse),
                "DeleteTask": unary(self.delete_task, t.DeleteTaskRequest, empty_pb2.Empty),
                "GetQueue": unary(self.get_queue, t.GetQueueRequest, t.Queue),
                "ListQueues": unary(self.list_queues, t.ListQueuesRequest, t.ListQueuesResponse),
            },
        )


class ServerThread:
    """A TasksServer on its own event loop in a background thread (tests, tools)."""

    def __init__(self, server: TasksServer, port: int = 0) -> None:
        self.server = server
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        self.port = self.call(lambda: self.server.start(self.port))
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.call(self.server.stop)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run a coroutine function on the server's loop and return its result."""

        async def run() -> T:
            return await fn()

        future: Future[T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(timeout)

    def read(self, fn: Callable[[TasksServer], T]) -> T:
        """Read server state consistently (on the server's loop)."""

        async def run() -> T:
            return fn(self.server)

        return self.call(run)
