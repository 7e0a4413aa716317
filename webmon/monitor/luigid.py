"""What webmon asks luigid, through its JSON API (never its history pages).

luigid serves everything on one thread, so every call has a short timeout
(settings.LUIGID_TIMEOUT) and nothing is cached across requests: a page shows
what luigid says now, or a banner. Settings: LUIGID_URL (from the environment,
or luigi.cfg [core] scheduler_url / scheduler_host + scheduler_port).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from django.conf import settings

from webmon.exceptions import LuigidUnavailable


def base_url() -> str:
    return str(settings.LUIGID_URL).rstrip("/")


def public_url() -> str:
    """luigid's URL without any user:password part, for banners and links."""
    parts = urlsplit(base_url())
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def visualiser_url(task_id: str) -> str:
    """The task's page in luigid's visualiser."""
    return f"{public_url()}/static/visualiser/index.html#tab=graph&taskId={quote(task_id, safe='')}"


def safe_link(url: Any) -> str | None:
    """`url` when it is an http(s) URL (a tracking URL is set by task code), else None."""
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else None


@dataclass(frozen=True)
class RunningTask:
    task_id: str
    family: str
    params: list[tuple[str, str]]
    status_message: str
    progress: int | None  # percent
    worker: str
    running_since: datetime | None
    tracking_url: str | None

    @property
    def visualiser_url(self) -> str:
        return visualiser_url(self.task_id)


@dataclass(frozen=True)
class Running:
    tasks: list[RunningTask]
    too_many: int | None = None  # luigid lists no tasks above its max_shown_tasks, only a count


def running_tasks(search: str = "") -> Running:
    """The RUNNING tasks luigid knows, newest first (`search`: substrings of the task id)."""
    response = call("task_list", {"status": "RUNNING", "upstream_status": "", "search": search})
    if not isinstance(response, dict):
        raise LuigidUnavailable("task_list answered something that is not a task list")
    if set(response) == {"num_tasks"}:
        return Running([], too_many=_int(response["num_tasks"]))
    tasks = [_task(task_id, raw) for task_id, raw in response.items() if isinstance(raw, dict)]
    tasks.sort(key=lambda t: t.running_since or datetime.min.replace(tzinfo=UTC), reverse=True)
    return Running(tasks)


@dataclass(frozen=True)
class GraphTask:
    """A node of luigid's dependency graph: a task, its status there and the task_ids it requires."""

    task_id: str
    family: str
    status: str  # PENDING RUNNING DONE FAILED DISABLED UNKNOWN BATCH_RUNNING
    deps: tuple[str, ...]


def dep_graph(task_id: str, inverse: bool = False) -> dict[str, GraphTask]:
    """luigid's graph below `task_id` (`inverse`: the tasks that require it), {} when luigid does not know it.

    luigid walks breadth-first up to its [scheduler] max_graph_nodes; what it
    answers is checked entry by entry (a node that is not an object, a dep that
    is not a task id, is skipped).
    """
    response = call("inverse_dep_graph" if inverse else "dep_graph", {"task_id": task_id})
    if not isinstance(response, dict):
        raise LuigidUnavailable("dep_graph answered something that is not a graph")
    graph = {}
    for node_id, raw in response.items():
        if not isinstance(raw, dict):
            continue
        deps = raw.get("deps") if isinstance(raw.get("deps"), list) else []
        graph[str(node_id)] = GraphTask(
            task_id=str(node_id),
            family=str(raw.get("name") or ""),
            status=str(raw.get("status") or "UNKNOWN"),
            deps=tuple(d for d in deps if isinstance(d, str) and d),
        )
    return graph


@dataclass(frozen=True)
class LuigiWorker:
    """A worker luigid knows (until [scheduler] worker_disconnect_delay after its last word)."""

    worker_id: str
    host: str  # "" when the worker did not say (luigi sends socket.gethostname())
    pid: int | None
    username: str
    processes: int | None  # the worker's --workers
    started: datetime | None
    last_seen: datetime | None  # luigid's last_active: the worker's last ping or request
    state: str  # active, disabled
    num_running: int
    num_pending: int
    num_uniques: int  # pending tasks no other worker wants
    running: list[RunningTask]


def workers() -> list[LuigiWorker]:
    """luigid's worker list, newest started first, with each worker's running tasks.

    Every field is checked (a worker's info is what the worker sent): a value
    of the wrong type reads as unknown, a worker that is not an object is skipped.
    """
    response = call("worker_list", {})
    if not isinstance(response, list):
        raise LuigidUnavailable("worker_list answered something that is not a worker list")
    found = []
    for raw in response:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            continue
        running = raw.get("running") if isinstance(raw.get("running"), dict) else {}
        tasks = [_task(task_id, task) for task_id, task in running.items() if isinstance(task, dict)]
        tasks.sort(key=lambda t: t.running_since or datetime.min.replace(tzinfo=UTC), reverse=True)
        found.append(LuigiWorker(
            worker_id=raw["name"],
            host=str(raw.get("host") or ""),
            pid=_int(raw.get("pid")),
            username=str(raw.get("username") or ""),
            processes=_int(raw.get("workers")),
            started=_time(raw.get("started")),
            last_seen=_time(raw.get("last_active")),
            state=str(raw.get("state") or "active"),
            num_running=_int(raw.get("num_running")) or len(tasks),
            num_pending=_int(raw.get("num_pending")) or 0,
            num_uniques=_int(raw.get("num_uniques")) or 0,
            running=tasks,
        ))
    return found


def call(method: str, data: dict[str, Any]) -> Any:
    """GET {luigid}/api/METHOD?data=JSON and return its "response"."""
    request = urllib.request.Request(f"{public_url()}/api/{method}?{urlencode({'data': json.dumps(data)})}")
    parts = urlsplit(base_url())
    if parts.username is not None:  # luigid behind a proxy with basic auth: credentials go in a header
        token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=settings.LUIGID_TIMEOUT) as answer:  # noqa: S310 - http(s) only, checked in settings
            body = json.loads(answer.read(20_000_000))
    except urllib.error.HTTPError as exc:
        raise LuigidUnavailable(f"HTTP {exc.code} from /api/{method}") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise LuigidUnavailable(_short(reason)) from None
    if not isinstance(body, dict) or "response" not in body:
        raise LuigidUnavailable(f"/api/{method} answered without a response")
    return body["response"]


def _task(task_id: str, raw: dict[str, Any]) -> RunningTask:
    params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
    since = raw.get("time_running")
    progress = raw.get("progress_percentage")
    return RunningTask(
        task_id=str(task_id),
        family=str(raw.get("name") or ""),
        params=[(str(k), str(v)) for k, v in params.items()],
        status_message=str(raw.get("status_message") or ""),
        progress=max(0, min(100, int(progress))) if isinstance(progress, int | float) else None,
        worker=str(raw.get("worker_running") or ""),
        running_since=datetime.fromtimestamp(since, UTC) if isinstance(since, int | float) else None,
        tracking_url=safe_link(raw.get("tracking_url")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> datetime | None:
    """Epoch seconds as aware UTC; None for anything else (or out of range)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _short(reason: Any) -> str:
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    return text[:200]
