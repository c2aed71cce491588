"""A small in-process registry of background export jobs (reports, packs, bundles).

A job runs ``work(job_dir, progress)`` in a daemon thread inside its own app context; ``work``
writes its file under the job's own temporary directory (``<data_dir>/jobs/<id>``) and returns
its path. ``progress(stage, fraction)`` updates the stage text and the 0..1 share shown to the
user. Only the user who started a job may see it (:meth:`JobRegistry.get` takes the user id).
Finished jobs and their files are removed after ``ttl`` seconds (default one hour); at most
``max_running`` jobs run at once, more are refused (:class:`BusyError`, HTTP 429).

One registry per app (``app.extensions["fieldkit_jobs"]``, see :func:`registry`); with several
server processes a job is visible only in the process that started it, so deployments that
run several workers should route ``/reports`` to one of them (sticky sessions).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app

from fieldkit.errors import FieldkitError

log = logging.getLogger(__name__)
Work = Callable[[Path, Callable[[str, float], None]], Path]
STATES = ("queued", "running", "done", "error")
DEFAULT_TTL = 3600.0
DEFAULT_MAX_RUNNING = 2
INTERNAL_ERROR = "导出时发生内部错误，请联系管理员查看服务器日志。"


class BusyError(FieldkitError):
    """Too many exports are running; try again shortly."""

    http_status = 429


@dataclasses.dataclass(slots=True)
class Job:
    """One export: who started it, what it is, how far it got, and where its file is."""

    id: str
    user_id: int
    label: str
    filename: str  # the download name (may be Chinese)
    mimetype: str
    dir: Path
    state: str = "queued"
    stage: str = "排队等待"
    fraction: float = 0.0
    result: Path | None = None
    error: str | None = None
    created: float = dataclasses.field(default_factory=time.time)
    finished: float | None = None

    def as_json(self) -> dict:
        """The job's progress for the page (no paths)."""
        return {"id": self.id, "label": self.label, "state": self.state, "stage": self.stage,
                "fraction": round(self.fraction, 4), "error": self.error, "filename": self.filename}


class JobRegistry:
    """Jobs of one app, by id; thread-safe."""

    def __init__(self, root: Path, *, ttl: float = DEFAULT_TTL, max_running: int = DEFAULT_MAX_RUNNING) -> None:
        self.root, self.ttl, self.max_running = Path(root), ttl, max_running
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, app: Flask, user_id: int, work: Work, *, label: str, filename: str, mimetype: str) -> Job:
        """Register a job for ``user_id`` and run ``work`` in a thread; BusyError when full."""
        self.cleanup()
        with self._lock:
            running = sum(1 for j in self._jobs.values() if j.state in ("queued", "running"))
            if running >= self.max_running:
                raise BusyError(f"已有 {running} 个导出任务在运行（上限 {self.max_running}），请稍后再试")
            job_id = secrets.token_urlsafe(16)
            job = Job(job_id, user_id, label, filename, mimetype, self.root / job_id)
            self._jobs[job_id] = job
        job.dir.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=self._run, args=(app, job, work), name=f"export-{job_id[:8]}", daemon=True)
        thread.start()
        return job

    def _run(self, app: Flask, job: Job, work: Work) -> None:
        def progress(stage: str, fraction: float) -> None:
            job.stage, job.fraction = stage, max(job.fraction, min(max(float(fraction), 0.0), 1.0))

        job.state = "running"
        try:
            with app.app_context():
                path = work(job.dir, progress)
            job.result, job.stage, job.fraction = Path(path), "完成", 1.0
            job.state = "done"
        except FieldkitError as exc:
            job.error, job.state = str(exc), "error"
        except Exception:  # a thread must report, never die silently
            log.exception("export job %s (%s) failed", job.id, job.label)
            job.error, job.state = INTERNAL_ERROR, "error"
        finally:
            job.finished = time.time()

    def get(self, job_id: str, user_id: int) -> Job | None:
        """The job if it exists and ``user_id`` started it; else None (no existence leak)."""
        self.cleanup()
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.user_id == user_id else None

    def cleanup(self, now: float | None = None) -> int:
        """Forget finished jobs older than ``ttl`` and delete their files; return how many."""
        now = time.time() if now is None else now
        with self._lock:
            old = [j for j in self._jobs.values() if j.finished is not None and now - j.finished > self.ttl]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.dir, ignore_errors=True)
        return len(old)

    def remove_stale_dirs(self, now: float | None = None) -> int:
        """Delete job directories left by an earlier process (unreachable) once older than ``ttl``."""
        now = time.time() if now is None else now
        if not self.root.is_dir():
            return 0
        with self._lock:
            known = set(self._jobs)
        stale = [d for d in self.root.iterdir()
                 if d.is_dir() and d.name not in known and now - d.stat().st_mtime > self.ttl]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)


def registry() -> JobRegistry:
    """The current app's job registry (created on first use under ``<data_dir>/jobs``).

    App config ``REPORT_JOBS_MAX`` (running jobs at once) and ``REPORT_JOBS_TTL`` (seconds a
    finished job is kept) override the defaults."""
    app = current_app
    reg = app.extensions.get("fieldkit_jobs")
    if reg is None:
        with _CREATE_LOCK:
            reg = app.extensions.get("fieldkit_jobs")
            if reg is None:
                root = app.extensions["fieldkit"].settings.data_dir / "jobs"
                reg = JobRegistry(root, ttl=float(app.config.get("REPORT_JOBS_TTL", DEFAULT_TTL)),
                                  max_running=int(app.config.get("REPORT_JOBS_MAX", DEFAULT_MAX_RUNNING)))
                reg.remove_stale_dirs()
                app.extensions["fieldkit_jobs"] = reg
    return reg


_CREATE_LOCK = threading.Lock()
