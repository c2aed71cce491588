"""Concurrency: simultaneous uploads of one photo dedupe to one original and one photo with a custody
record each; many writers in several processes never see "database is locked"."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fieldkit import audit, fixity
from fieldkit.photos.ingest import ingest_upload
from fieldkit.store.models import Photo, PhotoSubmission
from tests.photo_factory import make_jpeg

ROOT = Path(__file__).resolve().parents[2]
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')

# A worker process: THREADS threads start together; each uploads PHOTO (or its own photo when
# PHOTO is "own") and, for "write" jobs, appends an audit entry; prints a JSON list of outcomes.
WORKER = r"""
import json, sys, threading
from pathlib import Path
from fieldkit import audit
from fieldkit.runtime import Runtime
from fieldkit.settings import Settings
from fieldkit.photos.ingest import ingest_upload
from tests.photo_factory import make_jpeg

data_dir, photo, threads, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rt = Runtime(Settings.from_env(data_dir=data_dir))
rt.db, rt.evidence
barrier = threading.Barrier(threads)
out = [None] * threads

def job(i):
    data = Path(photo).read_bytes() if photo != "own" else make_jpeg(
        48, 36, lat=40.0 + i / 1000, lon=116.0 + len(tag) / 100, make=f"{tag}-{i}")
    barrier.wait()
    try:
        result = ingest_upload(rt, data, f"{tag}-{i}.jpg")
        with rt.db.session(write=True) as s:
            audit.append(s, None, "photo", result.photo_id, "uploaded", {"by": f"{tag}-{i}"})
        out[i] = result.status
    except Exception as exc:
        out[i] = f"error: {type(exc).__name__}: {exc}"

workers = [threading.Thread(target=job, args=(i,)) for i in range(threads)]
for w in workers: w.start()
for w in workers: w.join()
print(json.dumps(out))
"""


def run_workers(settings, photo: str, processes: int, threads: int) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(settings.data_dir), photo, str(threads), f"w{p}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in range(processes)]
    outcomes = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr[-3000:]
        outcomes += json.loads(stdout.strip().splitlines()[-1])
    return outcomes


def counts(rt):
    with rt.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Photo)),
                s.scalar(select(func.count()).select_from(PhotoSubmission)))


def originals(rt):
    return [p for p in rt.settings.evidence_dir.joinpath("objects").rglob("*") if p.is_file()]


def test_twenty_simultaneous_uploads_of_one_photo_in_threads(runtime):
    data = make_jpeg(800, 600, lat=40.35, lon=116.0, taken_at="2025:06:01 10:00:00")
    runtime.db, runtime.evidence
    barrier = threading.Barrier(20)

    def upload(i):
        barrier.wait()
        return ingest_upload(runtime, data, f"IMG_{i:02d}.jpg")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(upload, range(20)))
    assert sorted(r.status for r in results) == ["duplicate"] * 19 + ["ingested"]
    assert len({r.photo_id for r in results}) == 1
    assert counts(runtime) == (1, 20) and len(originals(runtime)) == 1
    with runtime.db.session() as s:
        names = set(s.scalars(select(PhotoSubmission.original_name)))
    assert names == {f"IMG_{i:02d}.jpg" for i in range(20)}
    assert list(runtime.evidence.tmp_dir.iterdir()) == []


def test_twenty_simultaneous_uploads_of_one_photo_from_four_processes(runtime, settings, tmp_path):
    photo = tmp_path / "same.jpg"
    photo.write_bytes(make_jpeg(800, 600, lat=40.35, lon=116.0, taken_at="2025:06:01 10:00:00"))
    runtime.db
    outcomes = run_workers(settings, str(photo), processes=4, threads=5)
    assert sorted(outcomes) == ["duplicate"] * 19 + ["ingested"], outcomes
    assert counts(runtime) == (1, 20) and len(originals(runtime)) == 1
    assert fixity.verify(runtime).ok


def test_fifty_concurrent_writers_never_see_a_locked_database(runtime, settings):
    runtime.db
    outcomes = run_workers(settings, "own", processes=2, threads=25)
    assert outcomes == ["ingested"] * 50, [o for o in outcomes if o != "ingested"]
    assert counts(runtime) == (50, 50)
    report = fixity.verify(runtime)
    assert report.ok and report.audit_entries == 50, report.problems
    assert audit.head(runtime)[0] == 50


def _login(base: str, name: str):
    """An opener logged in as ``name`` and its CSRF token."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login", timeout=30).read().decode()
    form = {"username": name, "password": f"pw-{name}-123456", "csrf_token": CSRF.search(page).group(1)}
    opener.open(urllib.request.Request(base + "/login", data=urllib.parse.urlencode(form).encode()), timeout=30)
    token = CSRF.search(opener.open(base + "/", timeout=30).read().decode()).group(1)
    return opener, token


def _upload(base: str, opener, token: str, name: str, data: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(base + "/api/uploads", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "X-CSRFToken": token})
    with opener.open(req, timeout=60) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_twenty_simultaneous_http_uploads_to_three_gunicorn_workers(runtime, settings):
    from fieldkit import users

    for i in range(20):
        users.add_user(runtime, f"insp{i}", f"pw-insp{i}-123456", role="inspector", team="A")
    runtime.evidence
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDKIT_DATA_DIR": str(settings.data_dir),
           "FIELDKIT_SECRET_KEY": uuid.uuid4().hex, "FIELDKIT_INSECURE_COOKIES": "1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "3", "--bind", f"127.0.0.1:{port}",
                               "--log-level", "warning", "webapp:create_app()"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        clients = [_login(base, f"insp{i}") for i in range(20)]
        data = make_jpeg(1000, 750, lat=40.35, lon=116.0, taken_at="2025:06:01 10:00:00")
        barrier = threading.Barrier(20)

        def upload(i):
            barrier.wait()
            return _upload(base, *clients[i], f"same-{i}.jpg", data)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(upload, range(20)))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    statuses = sorted(item["status"] for answer in answers for item in answer["results"])
    assert statuses == ["duplicate"] * 19 + ["ingested"], answers
    assert counts(runtime) == (1, 20) and len(originals(runtime)) == 1
    with runtime.db.session() as s:
        uploaders = set(s.scalars(select(PhotoSubmission.submitted_by_id)))
    assert len(uploaders) == 20, "every submission records who sent it"
