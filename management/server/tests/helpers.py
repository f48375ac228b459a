"""Test helpers: a work dir in the core's file layout, the server as a real process, and a
throwaway PostgreSQL cluster (the tests' fixture and bench/bench_server.py use the same one)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import glob
import inspect
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
REGISTRIES = REPO / "registries"
#: the registries the test servers use; conftest points it at a validated copy of REGISTRIES
ACTIVE = {"registries": REGISTRIES}
TOKEN = "test-token-9f2c1e"
# a valid 1x1 PNG, so image routes serve a real image file
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DOC_CLASSES = ["passport", "snils", "invoice"]
VQA_METRICS = ["anls", "exact_match"]
JSON_METRICS = ["field_f1"]


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def make_workdir(
    workdir: Path,
    experiment: str = "demo",
    *,
    models: tuple[str, ...] = ("tesseract", "rapidocr"),
    samples: int = 12,
    seed: int = 0,
) -> dict[str, Any]:
    """Files exactly where and as the core writes them (datasets/, runs/, evals/, reports/):
    a VQA run and a JSON-extraction run per model, with answers, per-sample scores, images."""
    rng = random.Random(seed)
    workdir = Path(workdir)
    generated = workdir / "generated" / "gen0001"
    generated.mkdir(parents=True, exist_ok=True)
    datasets = {
        "synthetic-docs-vqa": ("vqa", "text", "vqa-question", VQA_METRICS),
        "synthetic-docs-passport-fields": ("passport-fields", "json", "fields-json", JSON_METRICS),
    }
    runs_meta, board = [], []
    for d_index, (dataset, (task, kind, prompt, metrics)) in enumerate(datasets.items()):
        sync_id = f"sync{d_index:012d}"
        items = []
        for i in range(samples):
            image = generated / f"{dataset}-{i}.png"
            image.write_bytes(PNG)
            doc = DOC_CLASSES[i % 3]
            item: dict[str, Any] = {
                "id": f"{dataset}-{i}",
                "images": [str(image)],
                "prompt_vars": {"question": f"What is field {i}?"},
                "doc_class": doc,
                "question_type": "date" if i % 2 else "name",
                "metadata": {"split": "test", "lang": "ru" if doc != "invoice" else "en"},
            }
            if kind == "json":
                item["fields"] = {"surname": f"IVANOV{i}", "number": f"{1000 + i}"}
            else:
                item["reference"] = f"answer {i}"
            items.append(item)
        sync_dir = workdir / "datasets" / sync_id
        sync_dir.mkdir(parents=True, exist_ok=True)
        (sync_dir / "samples.jsonl").write_text(
            "".join(json.dumps(s, sort_keys=True) + "\n" for s in items), encoding="utf-8"
        )
        _write_json(
            sync_dir / "manifest.json",
            {
                "fingerprint": "sha256:0",
                "samples": samples,
                "images": samples,
                "root": str(generated),
            },
        )
        for m_index, model in enumerate(models):
            run = f"{model}__{dataset}__{prompt}"
            infer_id, eval_id = f"inf{d_index}{m_index:011d}", f"evl{d_index}{m_index:011d}"
            infer_dir, eval_dir = workdir / "runs" / infer_id, workdir / "evals" / eval_id
            _write_json(
                infer_dir / "run.json",
                {
                    "infer_id": infer_id,
                    "run": run,
                    "sync_id": sync_id,
                    "task": {"name": task, "output": {"kind": kind}},
                },
            )
            answers, per_sample = [], []
            for item in items:
                good = rng.random() < (0.9 if m_index == 0 else 0.5)
                if kind == "json":
                    fields = (
                        dict(item["fields"])
                        if good
                        else {"surname": "X", "number": item["fields"]["number"]}
                    )
                    answer = json.dumps(fields)
                else:
                    answer = item["reference"] if good else "wrong"
                latency = round(0.1 + rng.random() * (0.3 if m_index == 0 else 1.0), 4)
                answers.append(
                    {
                        "id": item["id"],
                        "answer": answer,
                        "parse_status": "ok" if kind == "json" else "text",
                        "latency_s": latency,
                        "started_at": 1000.0,
                        "finished_at": 1000.0 + latency,
                    }
                )
                scores = [1.0 if good else 0.0 for _ in metrics]
                per_sample.append(
                    [item["id"], item["doc_class"], item["question_type"], "ok", answer, *scores]
                )
            infer_dir.mkdir(parents=True, exist_ok=True)
            (infer_dir / "answers.jsonl").write_text(
                "".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8"
            )
            eval_dir.mkdir(parents=True, exist_ok=True)
            with (eval_dir / "per_sample.csv").open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    ["id", "doc_class", "question_type", "parse_status", "answer", *metrics]
                )
                writer.writerows(per_sample)
            means = {
                m: round(sum(r[5 + k] for r in per_sample) / len(per_sample), 4)
                for k, m in enumerate(metrics)
            }
            runs_meta.append(
                {
                    "run": run,
                    "model": model,
                    "dataset": dataset,
                    "prompt": prompt,
                    "task": task,
                    "infer_id": infer_id,
                    "eval_id": eval_id,
                    "error": None,
                    "complete": True,
                    "metric_versions": {},
                }
            )
            latencies = sorted(a["latency_s"] for a in answers)
            board.append(
                {
                    "run": run,
                    "model": model,
                    "dataset": dataset,
                    "task": task,
                    "prompt": prompt,
                    **means,
                    "samples": samples,
                    "failed": 0,
                    "latency_p50_s": latencies[len(latencies) // 2],
                    "status": "ok",
                }
            )
    report = workdir / "reports" / experiment
    _write_json(report / "runs.json", runs_meta)
    columns = [
        "run",
        "model",
        "dataset",
        "task",
        "prompt",
        *VQA_METRICS,
        *JSON_METRICS,
        "samples",
        "failed",
        "latency_p50_s",
        "status",
    ]
    with (report / "leaderboard.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(board)
    events = [
        {
            "type": "stage_started",
            "stage_id": "s1",
            "stage_kind": "report",
            "name": f"report {experiment}",
            "ts": 1.0,
        },
        {
            "type": "stage_finished",
            "stage_id": "s1",
            "stage_kind": "report",
            "name": f"report {experiment}",
            "ts": 2.0,
            "outputs": {},
        },
    ]
    (report / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8"
    )
    return {"runs": runs_meta, "board": board, "samples_per_run": samples}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``vlmhb-server`` started as a real process on 127.0.0.1.

    One API process (``--workers 1``) unless ``workers`` says otherwise (None: the server's
    own default, min(4, CPUs)): each further process imports the whole server again (~2 s a
    start on a 2-core machine, for every test that starts one), and what several processes
    do together is tested where it is the point (``test_workers.py``, the bench)."""

    def __init__(
        self,
        workdir: Path,
        database_url: str,
        *,
        scripted: bool = True,
        env: dict[str, str] | None = None,
        extra: list[str] | None = None,
        workers: int | None = 1,
    ) -> None:
        self.workdir = Path(workdir)
        self.database_url = database_url
        self.scripted = scripted
        self.env = {**os.environ, "VLMHB_SERVER_TOKEN": TOKEN, **(env or {})}
        self.extra = list(extra or [])
        if workers is not None:
            self.extra += ["--workers", str(workers)]
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = self.workdir / "server-process.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ServerProcess:
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "vlmhb_server",
            "serve",
            "--port",
            str(self.port),
            "--workdir",
            str(self.workdir),
            "--database-url",
            self.database_url,
            "--registries",
            str(ACTIVE["registries"]),
            "--mode",
            "dev",
            *self.extra,
        ]
        if self.scripted:
            command += ["--worker-module", str(HERE / "scripted_worker.py")]
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            command, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start in {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )


def kill_experiment_workers(under: Path, timeout_s: float = 10.0) -> list[int]:
    """SIGKILL the experiment workers whose command line names a path under ``under`` (a
    test's tmp_path: its work dir, its SQLite file); returns their pids.

    Workers outlive their server by design, so a test's leftovers would otherwise run on into
    the next tests, and a server being stopped waits up to its 15 s grace for each running one.
    """
    marker = str(under).encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"--experiment" in cmdline.split(b"\0") and marker in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(int(entry.name))
    deadline = time.monotonic() + timeout_s
    for pid in killed:
        while time.monotonic() < deadline:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                break
            if state in ("Z", "X"):  # dead; its parent (a server, or init) reaps it
                break
            time.sleep(0.02)
    return killed


async def wait_status(
    client: httpx.AsyncClient, exp_id: int, statuses: set[str], timeout_s: float = 120
) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        data = (await client.get(f"/api/experiments/{exp_id}")).json()
        if data["status"] in statuses:
            return data
        await asyncio.sleep(0.2)
    raise AssertionError(f"experiment {exp_id} still {data['status']} after {timeout_s} s")


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]


class PostgresUnavailable(RuntimeError):
    """No initdb/pg_ctl, or running as root without a ``postgres`` user to run them as."""


def start_postgres(
    root: Path, *, durable: bool, max_connections: int | None = None
) -> tuple[Path, Callable[[], None]]:
    """A throwaway cluster (initdb + pg_ctl) in ``root`` listening only on a unix socket, user
    ``vlmhb`` trusted; returns the socket folder and a function that stops it.

    ``durable=False`` (the tests) turns fsync off; the bench keeps it on, so its figures are
    those of a real server.
    """
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (Debian package 'postgresql'; scripts/bootstrap.sh)"
        )
    data, sock = root / "data", root / "s"
    sock.mkdir(parents=True)
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                "running as root and there is no 'postgres' user to run PostgreSQL as"
            ) from None
        os.chmod(root, 0o755)
        os.chown(root, user.pw_uid, user.pw_gid)
        os.chown(sock, user.pw_uid, user.pw_gid)
    init = [initdb, "-D", str(data), "-U", "vlmhb", "--auth=trust", "-E", "UTF8"]
    subprocess.run(
        _as_postgres(init if durable else [*init, "--no-sync"]), check=True, capture_output=True
    )
    options = f"-k {sock} -c listen_addresses='' -p 5432"
    if not durable:
        options += " -c fsync=off"
    if max_connections:
        options += f" -c max_connections={max_connections}"
    subprocess.run(
        _as_postgres(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        mode = "fast" if durable else "immediate"
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", mode, "stop"]),
            check=False,
            capture_output=True,
        )

    return sock, stop


@contextlib.contextmanager
def throwaway_postgres(prefix: str) -> Iterator[tuple[Path, Path]]:
    """``(root, socket folder)`` of a cluster of its own (``start_postgres``, fsync off) under
    /tmp, where the postgres user can reach it (pytest's tmp_path is private to root);
    stopped and removed after. Skips the test when PostgreSQL is not installed."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        sock, stop = start_postgres(root, durable=False)
    except PostgresUnavailable as exc:
        shutil.rmtree(root, ignore_errors=True)
        import pytest

        pytest.skip(str(exc))
    try:
        yield root, sock
    finally:
        stop()
        shutil.rmtree(root, ignore_errors=True)


def restart_postgres(root: Path) -> None:
    """Restart the cluster ``start_postgres(root, ...)`` started, with its options, as an
    operator would (``pg_ctl restart -m fast``: every backend is ended, clients see their
    connections closed)."""
    pg_ctl = _pg_bin("pg_ctl")
    assert pg_ctl, "start_postgres found pg_ctl before"
    # -l: the new server's output to the log, not to this pipe (which it would hold open)
    restart = [pg_ctl, "-D", str(root / "data"), "-l", str(root / "log"), "-m", "fast"]
    subprocess.run(
        _as_postgres([*restart, "-w", "restart"]),
        check=True,
        capture_output=True,
    )


async def experiment_with_samples(
    database: Any, samples: list[dict[str, Any]], name: str = "samples"
) -> int:
    """A finished, imported-looking experiment holding ``samples`` (rows as
    ``store.insert_samples`` takes them), written straight to the database; its id."""
    from vlmhb_server import store
    from vlmhb_server.db import Experiment

    async with database.session() as session:
        exp = Experiment(
            name=name,
            status="done",
            spec={},
            source="import",
            stages={},
            attempts=1,
            cancel_requested=0,
            created_at=time.time(),
        )
        session.add(exp)
        await session.flush()
        await store.insert_samples(session, exp.id, samples)
        await session.commit()
        return exp.id


async def reimport_samples(url: str, experiment_id: int, samples: list[dict[str, Any]]) -> None:
    """The experiment's samples replaced by ``samples`` as another process would (its own
    engine and connections), bumping the samples version as an import does."""
    from sqlalchemy import text
    from vlmhb_server import store
    from vlmhb_server.db import Database

    writer = Database(url)
    try:
        async with writer.session() as session:
            await session.execute(
                text("DELETE FROM samples WHERE experiment_id = :e"), {"e": experiment_id}
            )
            await store.insert_samples(session, experiment_id, samples)
            await session.commit()
    finally:
        await writer.dispose()


async def until(
    holds: Callable[[], Any], what: str, timeout_s: float = 10.0, every_s: float = 0.01
) -> None:
    """Wait until ``holds()`` (awaited when it returns an awaitable) is true; past
    ``timeout_s`` an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = holds()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(every_s)
