"""Load: the app under gunicorn on loopback, inspectors uploading while reviewers browse the map API.

For each backend (SQLite; PostGIS on ``--pg-url`` or ``FIELDKIT_BENCH_DATABASE_URL``, a server
whose user may create databases, or else on a throwaway local cluster started for the run when
PostgreSQL and PostGIS are installed, as ``./dev test`` installs them), a fresh data directory is seeded with a layer of 5,000
segments and 20,000 placed photos, gunicorn starts with ``--workers`` processes on 127.0.0.1, and
``--clients`` client threads run for ``--seconds``: a quarter are inspectors uploading new photos
(``POST /api/uploads``), the rest reviewers requesting ``/api/photos`` and ``/api/features`` for
random map windows and ``/api/layers``. Target: zero errors, map API p95 under 500 ms with 20 clients.

Prints a table, then one JSON line per backend:
``{"backend", "clients", "rps", "p50_ms", "p95_ms", "p99_ms", "errors", ...}`` (latencies: map API).

    .venv/bin/python bench/load.py [--seconds 20] [--clients 20] [--workers 4] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BOX = (101.3, 37.6, 102.9, 38.9)  # around Jinchang / Yongchang, Gansu
PASSWORD = "bench-password-123456"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def seed(env: dict, photos: int) -> None:
    """Users, a layer of segments and ``photos`` placed photos in the data dir / database of ``env``."""
    from sqlalchemy import insert

    from fieldkit import users
    from fieldkit.layers.importer import import_file
    from fieldkit.runtime import Runtime
    from fieldkit.settings import Settings
    from fieldkit.store import Photo

    rt = Runtime(Settings.from_env(env=env))
    for i in range(40):
        users.add_user(rt, f"insp{i}", PASSWORD, role="inspector", team="A")
        users.add_user(rt, f"rev{i}", PASSWORD, role="reviewer")
    rng = np.random.default_rng(7)
    x, y = rng.uniform(BOX[0], BOX[2], 5000), rng.uniform(BOX[1], BOX[3], 5000)
    feats = [{"type": "Feature", "properties": {"name": f"段{i}"}, "geometry": {"type": "LineString",
              "coordinates": [[x[i], y[i]], [x[i] + 0.002, y[i] + 0.001]]}} for i in range(5000)]
    layer = Path(env["FIELDKIT_DATA_DIR"]) / "wall.geojson"
    layer.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    import_file(rt, layer, "great_wall", name="长城（基准）")
    lon, lat = rng.uniform(BOX[0], BOX[2], photos), rng.uniform(BOX[1], BOX[3], photos)
    rows = [{"sha256": uuid.uuid4().hex * 2, "original_name": f"IMG_{i:05d}.jpg", "size_bytes": 3_700_000,
             "lon": float(a), "lat": float(b), "location_source": "exif", "uploaded_by_id": 1,
             "taken_at": "2024-05-01T10:00:00+08:00"} for i, (a, b) in enumerate(zip(lon, lat))]
    with rt.db.session(write=True) as s:
        for start in range(0, len(rows), 10_000):
            s.execute(insert(Photo), rows[start:start + 10_000])
    rt.db.dispose()


class Client:
    """One logged-in user with its own cookies and CSRF token."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get("/login")[1].decode()
        form = {"username": name, "password": PASSWORD, "csrf_token": CSRF.search(page).group(1), "next": ""}
        self.request("POST", "/login", urllib.parse.urlencode(form).encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"})
        self.token = CSRF.search(self.get("/")[1].decode()).group(1)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def get(self, path: str):
        return self.request("GET", path)

    def upload(self, name: str, data: bytes):
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.request("POST", "/api/uploads", body, {"Content-Type": f"multipart/form-data; boundary={boundary}",
                                                           "X-CSRFToken": self.token})


def map_path(rng: random.Random) -> str:
    w = rng.choice([0.05, 0.2, 0.5])
    x, y = rng.uniform(BOX[0], BOX[2] - w), rng.uniform(BOX[1], BOX[3] - w)
    bbox = f"{x:.4f},{y:.4f},{x + w:.4f},{y + w * 0.6:.4f}"
    return rng.choice([f"/api/photos?bbox={bbox}", f"/api/features?bbox={bbox}", "/api/layers"])


def run_clients(base: str, clients: int, seconds: float) -> tuple[list[tuple[str, float, bool]], float]:
    """Log every client in, then run the load; returns (kind, seconds, ok) per request and the wall time."""
    from tests.photo_factory import make_jpeg

    uploaders = max(1, clients // 4)
    records: list[tuple[str, float, bool]] = []
    lock = threading.Lock()
    sessions = [Client(base, f"insp{i}" if i < uploaders else f"rev{i}") for i in range(clients)]
    photos = {i: [make_jpeg(1200, 900, lat=38.0 + k / 1e4, lon=102.0 + i / 1e3, taken_at="2025:06:01 10:00:00",
                            make=f"bench-{i}-{k}") for k in range(20)] for i in range(uploaders)}
    started = time.perf_counter()
    stop = time.monotonic() + seconds

    def work(i: int) -> None:
        rng = random.Random(i)
        k = 0
        while time.monotonic() < stop:
            start = time.perf_counter()
            if i < uploaders:
                kind, (status, body) = "upload", sessions[i].upload(f"IMG_{i}_{k}.jpg", photos[i][k % 20])
                k += 1
                ok = status == 200 and b'"failed"' not in body
            else:
                kind, (status, _) = "map", sessions[i].get(map_path(rng))
                ok = status == 200
            with lock:
                records.append((kind, time.perf_counter() - start, ok))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return records, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_backend(backend: str, url: str | None, args) -> dict:
    with tempfile.TemporaryDirectory(prefix="fk-load-") as tmp:
        env = {"FIELDKIT_DATA_DIR": tmp, "FIELDKIT_SECRET_KEY": uuid.uuid4().hex, "FIELDKIT_INSECURE_COOKIES": "1"}
        if url:
            env["FIELDKIT_DATABASE_URL"] = url
        seed(env, args.photos)
        port = free_port()
        gunicorn = [sys.executable, "-m", "gunicorn", "--workers", str(args.workers), "--threads", "4",
                    "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "webapp:create_app()"]
        server = subprocess.Popen(gunicorn, env={**os.environ, **env}, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(f"{backend}: gunicorn did not start")
                    time.sleep(0.2)
            records, elapsed = run_clients(f"http://127.0.0.1:{port}", args.clients, args.seconds)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    return summarise(backend, args, records, elapsed)


def summarise(backend: str, args, records, elapsed: float) -> dict:
    maps = np.array([t for k, t, _ in records if k == "map"]) * 1000
    ups = np.array([t for k, t, _ in records if k == "upload"]) * 1000
    pct = (lambda a, q: round(float(np.percentile(a, q)), 1) if a.size else None)
    return {"backend": backend, "clients": args.clients, "workers": args.workers, "seconds": round(elapsed, 1),
            "requests": len(records), "rps": round(len(records) / elapsed, 1),
            "p50_ms": pct(maps, 50), "p95_ms": pct(maps, 95), "p99_ms": pct(maps, 99),
            "errors": sum(1 for *_, ok in records if not ok), "uploads": int(ups.size),
            "upload_p95_ms": pct(ups, 95)}


def pg_database(admin_url: str) -> tuple[str, object]:
    """A fresh database on the server of ``admin_url``; returns its URL and a drop() callback."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    name = f"fieldkit_load_{os.getpid()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


@contextlib.contextmanager
def throwaway_cluster():
    """A PostgreSQL cluster of Debian's packages in a temp dir on a free loopback port, durable
    (fsync on, as a server would run), removed after; yields its admin URL, or None when
    PostgreSQL or PostGIS is not installed."""
    initdbs = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not initdbs or not any(Path("/usr/share/postgresql").glob("*/extension/postgis.control")):
        yield None
        return
    bin_dir = initdbs[-1].parent
    as_root = os.geteuid() == 0
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-load-pg-"))
    if as_root:
        shutil.chown(folder, "postgres")
    data = folder / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(data), "-U", user, "-E", "UTF8",
                        "--locale=C.UTF-8", "--auth=reject"], check=True, **quiet)
        (data / "pg_hba.conf").write_text(f"host all {user} 127.0.0.1/32 trust\n")
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
                        "-c max_connections=200", "start"], check=True, **quiet)
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       check=False, **quiet)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="load per backend (≤ 60 in all)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--photos", type=int, default=20_000, help="photos seeded before the load")
    parser.add_argument("--pg-url", default=os.environ.get("FIELDKIT_BENCH_DATABASE_URL"),
                        help="PostgreSQL server (a database is created there and dropped after)")
    args = parser.parse_args()
    results = [bench_backend("sqlite", None, args)]
    with contextlib.ExitStack() as stack:
        pg_url = args.pg_url
        if not pg_url:
            pg_url = stack.enter_context(throwaway_cluster())
            if pg_url:
                print("postgis: on a throwaway local cluster (fsync on), removed after", file=sys.stderr)
        if pg_url:
            url, drop = pg_database(pg_url)
            try:
                results.append(bench_backend("postgis", url, args))
            finally:
                drop()
        else:
            print("postgis: skipped (PostgreSQL + PostGIS not installed; pass --pg-url or set "
                  "FIELDKIT_BENCH_DATABASE_URL)", file=sys.stderr)
    print(f"{'backend':8} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6}")
    for r in results:
        print(f"{r['backend']:8} {r['clients']:>7} {r['rps']:>7} {r['p50_ms']:>7} {r['p95_ms']:>7} "
              f"{r['p99_ms']:>7} {r['errors']:>6}")
    for r in results:
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
