"""Issue 31's security and robustness defects, each against a real server process: what a
hostile or careless client sent, and what the server must (not) do with it."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import ACTIVE, TOKEN, ServerProcess, make_workdir, wait_status

HEADER = "dataset;task;model_name;prompt_collection;metrics\n"


def user_config(prompt_collection: str) -> bytes:
    return (HEADER + f"synthetic-docs-vqa;vqa;tesseract;{prompt_collection};anls\n").encode()


@pytest.fixture
def server(tmp_path: Path, sqlite_url: str, server_factory: list) -> ServerProcess:
    started = ServerProcess(tmp_path / "work", sqlite_url).start()
    server_factory.append(started)
    return started


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- client-sent paths ---------------------------------------------------------------------


async def test_user_config_cannot_make_the_server_read_its_files(
    server: ServerProcess, tmp_path: Path
) -> None:
    database = Path(server.database_url.split("///", 1)[1])
    hostile = [
        "/etc/passwd",
        "/proc/self/environ",
        "../../../server.sqlite",
        str(database),
        "../" * 12 + "etc/passwd",
    ]
    async with server.client() as client:
        for cell in hostile:
            refused = await client.post(
                "/api/experiments",
                files={"user_config": ("user_config.csv", user_config(cell), "text/csv")},
            )
            assert refused.status_code == 422, (cell, refused.text)
            text = refused.text
            assert "prompt_collection" in text and "where this server reads" in text, text
            assert "root:x:0:0" not in text and TOKEN not in text, text
        # the server's own database was not opened by a request: it still works
        made = await client.post("/api/experiments", json={"experiment": "default", "limit": 1})
        assert made.status_code == 201, made.text
        assert (await wait_status(client, made.json()["id"], {"done"}))["status"] == "done"
        # a collection in the server's declared folder is read
        folder = server.workdir / "data_dirs" / "PromptCollections" / "vqa"
        folder.mkdir(parents=True)
        (folder / "mine.csv").write_text(
            "doc_class_question_type;prompt\npassport name;What is the name? {question}\n",
            encoding="utf-8",
        )
        accepted = await client.post(
            "/api/experiments",
            files={"user_config": ("user_config.csv", user_config("mine.csv"), "text/csv")},
        )
        assert accepted.status_code == 201, accepted.text


async def test_import_only_from_declared_folders(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    planted = tmp_path / "elsewhere"
    make_workdir(planted, "planted", samples=2)
    allowed = tmp_path / "shared-results"
    make_workdir(allowed, "shared", samples=2)
    server = ServerProcess(
        tmp_path / "work", sqlite_url, extra=["--import-root", str(allowed)]
    ).start()
    server_factory.append(server)
    async with server.client() as client:
        for path in ("/etc", "/root", str(planted), str(allowed / ".." / "elsewhere")):
            refused = await client.post("/api/import", json={"workdir": path})
            assert refused.status_code == 403, (path, refused.text)
            assert "workdir" in refused.json()["detail"]
        ok = await client.post("/api/import", json={"workdir": str(allowed)})
        assert ok.status_code == 201, ok.text


async def test_image_route_serves_only_images_of_the_dataset(
    server: ServerProcess,
) -> None:
    source = server.workdir  # the server's own work dir: an allowed import folder
    make_workdir(source, "hostile", samples=5)
    # a manifest claiming the whole disk as its root, samples pointing at server files
    for manifest in source.glob("datasets/*/manifest.json"):
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "root": "/"}))
    database = Path(server.database_url.split("///", 1)[1])
    targets = ["/etc/passwd", str(database), str(source / "server" / "supervisor.lock")]
    for samples_file in source.glob("datasets/*/samples.jsonl"):
        rows = [json.loads(line) for line in samples_file.read_text().splitlines()]
        for row, target in zip(rows, targets, strict=False):
            row["images"] = [target]
        samples_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    async with server.client() as client:
        done = await client.post("/api/import", json={"workdir": str(source)})
        assert done.status_code == 201, done.text
        exp_id = done.json()["imported"][0]["id"]
        page = (
            await client.get(f"/api/experiments/{exp_id}/samples", params={"limit": 100})
        ).json()
        served: dict[int, list[httpx.Response]] = {}
        for item in page["items"]:  # sample <dataset>-<n>: n < 3 points at targets[n]
            n = int(item["sample_id"].rsplit("-", 1)[1])
            served.setdefault(n, []).append(await client.get(item["image_url"]))
        for n, target in enumerate(targets):
            for response in served[n]:
                assert response.status_code == 403, (target, response.status_code)
                assert b"root:" not in response.content and b"SQLite" not in response.content
        real = served[3] + served[4]
        assert real and all(r.status_code == 200 for r in real)


# --- what a submission may ask for ------------------------------------------------------------


async def test_storage_and_parallelism_are_the_servers_choice(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(
        tmp_path / "work", sqlite_url, extra=["--allow-storage", "s3://team-results/vlmhb"]
    ).start()
    server_factory.append(server)
    async with server.client() as client:
        for storage, field in [
            ({"uri": str(tmp_path / "anywhere")}, "storage.uri"),
            ({"uri": "file:///etc/cron.d"}, "storage.uri"),
            ({"uri": "s3://attacker/x", "endpoint_url": "http://attacker:9000"}, "storage.uri"),
            (
                {"uri": "s3://team-results/vlmhb/a", "endpoint_url": "http://attacker:9000"},
                "storage.endpoint_url",
            ),
        ]:
            refused = await client.post(
                "/api/experiments",
                json={"experiment": "default", "overrides": {"storage": storage}},
            )
            assert refused.status_code == 422, (storage, refused.text)
            assert field in json.dumps(refused.json()), refused.text
        yaml_text = (ACTIVE["registries"] / "experiments" / "default.yaml").read_text()
        in_yaml = await client.post(
            "/api/experiments",
            json={"yaml": f"name: y1\nstorage:\n  uri: {tmp_path / 'x'}\n" + yaml_text},
        )
        assert in_yaml.status_code == 422 and "storage.uri" in in_yaml.text, in_yaml.text
        huge = await client.post(
            "/api/experiments",
            json={"experiment": "default", "overrides": {"parallelism": 100000}},
        )
        assert huge.status_code == 422 and "parallelism: at most 8" in huge.text, huge.text
        allowed = await client.post(
            "/api/experiments",
            json={
                "experiment": "default",
                "limit": 1,
                "overrides": {"storage": {"uri": "s3://team-results/vlmhb/run1"}},
            },
        )
        assert allowed.status_code == 201, allowed.text


@pytest.fixture
def pg_url_with_password(postgres: dict[str, str]) -> str:
    """A fresh PostgreSQL database; the URL carries a password (trust auth ignores it)."""
    from conftest import _new_pg_database

    return _new_pg_database(postgres).replace("://vlmhb@", "://vlmhb:pw-d0-not-show@")


@pytest.mark.postgres
async def test_worker_command_line_has_no_database_password(
    tmp_path: Path, pg_url_with_password: str, server_factory: list
) -> None:
    url = pg_url_with_password
    server = ServerProcess(tmp_path / "work", url, env={"SCRIPTED_DELAY_S": "0.1"}).start()
    server_factory.append(server)
    async with server.client() as client:
        exp_id = (await client.post("/api/experiments", json={"experiment": "default"})).json()[
            "id"
        ]
        await wait_status(client, exp_id, {"running"})
        seen = []
        for _ in range(50):
            for proc in Path("/proc").iterdir():
                try:
                    line = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"--experiment" in line and str(server.workdir).encode() in line:
                    seen.append(line)
            if seen:
                break
            await asyncio.sleep(0.1)
        assert seen, "no worker process found"
        assert all(b"pw-d0-not-show" not in line for line in seen), seen
        done = await wait_status(client, exp_id, {"done", "failed"})
        assert done["status"] == "done", done  # the worker reached the database all the same


# --- auth: reflection, revocation, scopes, logs --------------------------------------------


async def test_docs_page_reflects_no_request_value(read_only_server: ServerProcess) -> None:
    server = read_only_server
    payload = "</script><script>alert(document.domain)</script>"
    async with httpx.AsyncClient(base_url=server.url) as client:
        page = await client.get("/api/docs", params=[("token", TOKEN), ("token", payload)])
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert payload not in page.text and "alert(" not in page.text
    assert TOKEN not in page.text


async def test_scopes_owners_and_revocation(server: ServerProcess, sqlite_url: str) -> None:
    async with server.client() as admin:
        made = {}
        for name, scope in [("alice", "read"), ("bob", "run"), ("carol", "admin")]:
            response = await admin.post("/api/tokens", json={"name": name, "scope": scope})
            assert response.status_code == 201, response.text
            made[name] = response.json()["token"]
        bad = await admin.post("/api/tokens", json={"name": "x", "scope": "root"})
        assert bad.status_code == 422 and "scope" in bad.text
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        alice, bob, carol = (bearer(made[n]) for n in ("alice", "bob", "carol"))
        assert (await client.get("/api/experiments", headers=alice)).status_code == 200
        refused = await client.post(
            "/api/experiments", headers=alice, json={"experiment": "default"}
        )
        assert refused.status_code == 403, refused.text
        assert "missing scope 'run'" in refused.json()["detail"]
        launched = await client.post(
            "/api/experiments",
            headers=bob,
            json={"experiment": "default", "limit": 1},
        )
        assert launched.status_code == 201, launched.text
        exp_id = launched.json()["id"]
        assert (
            await client.post(f"/api/experiments/{exp_id}/cancel", headers=alice)
        ).status_code == 403
        for path in ("/api/tokens", "/api/import"):
            method = "GET" if path == "/api/tokens" else "POST"
            response = await client.request(method, path, headers=bob, json={})
            assert response.status_code == 403 and "'admin'" in response.text, response.text
        await client.post(f"/api/experiments/{exp_id}/cancel", headers=carol)
        async with httpx.AsyncClient(base_url=server.url, headers=alice, timeout=30) as reader:
            data = await wait_status(reader, exp_id, {"cancelled", "done", "failed"})
        assert data["launched_by"] == "bob"
        assert data["status"] in ("cancelled", "done")
        if data["status"] == "cancelled":
            assert data["cancelled_by"] == "carol"
        listed = (await client.get("/api/experiments", headers=alice)).json()["items"]
        assert listed[0]["launched_by"] == "bob"
        tokens = (await client.get("/api/tokens", headers=carol)).json()["items"]
        assert {(t["name"], t["scope"]) for t in tokens} == {
            ("alice", "read"),
            ("bob", "run"),
            ("carol", "admin"),
        }
        assert all("hash" not in json.dumps(t) and made["bob"] not in json.dumps(t) for t in tokens)
        bob_id = next(t["id"] for t in tokens if t["name"] == "bob")
        assert (await client.delete(f"/api/tokens/{bob_id}", headers=carol)).status_code == 200
        for _ in range(6):  # every server process refuses it at once, no unknown token needed
            assert (await client.get("/api/experiments", headers=bob)).status_code == 401
        # the command line: list and revoke by owner; refused at once as well
        cli = [sys.executable, "-m", "vlmhb_server", "token"]
        listing = subprocess.run(
            [*cli, "list", "--database-url", sqlite_url], capture_output=True, text=True
        )
        assert listing.returncode == 0 and "alice" in listing.stdout and "bob" not in listing.stdout
        revoked = subprocess.run(
            [*cli, "revoke", "alice", "--database-url", sqlite_url], capture_output=True, text=True
        )
        assert revoked.returncode == 0, revoked.stderr
        for _ in range(6):
            assert (await client.get("/api/experiments", headers=alice)).status_code == 401
        missing = subprocess.run(
            [*cli, "revoke", "nobody", "--database-url", sqlite_url], capture_output=True, text=True
        )
        assert missing.returncode == 2 and "no token" in missing.stderr


async def test_token_is_masked_in_the_log_in_any_encoding(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        for query in (f"to%6ben={TOKEN}", f"%74oken={TOKEN}", f"a=1&to%6Ben={TOKEN}"):
            response = await client.get(f"/api/experiments?{query}")
            assert response.status_code == 200, query  # accepted as the token...
    server.stop()
    log = server.output()
    assert "/api/experiments?" in log
    assert TOKEN not in log  # ...and never written to the log


# --- bad input: 4xx naming the parameter ---------------------------------------------------


async def test_bad_input_is_a_4xx_naming_the_parameter(server: ServerProcess) -> None:
    big = str(2**70)
    async with server.client() as client:
        made = await client.post("/api/experiments", json={"experiment": "default", "limit": 1})
        exp_id = made.json()["id"]
        await wait_status(client, exp_id, {"done"})
        cases = [
            (f"/api/experiments/{exp_id}/samples?q=a%00b", "q"),
            (f"/api/experiments/{exp_id}/samples?doc_class=%00", "doc_class"),
            (f"/api/experiments/{exp_id}/figures/a%00b", "path"),
            (f"/api/experiments/{exp_id}/samples?offset={big}", "offset"),
            (f"/api/experiments?offset={big}", "offset"),
            (f"/api/experiments/{big}", "experiment_id"),
            (f"/api/experiments/{big}/samples", "experiment_id"),
            (f"/api/experiments/{exp_id}/samples/{big}/image", "row_id"),
            (f"/api/compare?a={big}&b={exp_id}", "a"),
            (f"/api/compare?a={exp_id}&b={big}:y", "b"),
        ]
        for url, name in cases:
            response = await client.get(url)
            assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
            assert name in response.text, (url, response.text)
        deep = '{"experiment": "default", "overrides": ' + '{"a": ' * 1200 + "1" + "}" * 1201
        response = await client.post(
            "/api/experiments", content=deep, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422 and "nested deeper" in response.text, response.text
        nested = {"description": "x"}
        for _ in range(40):
            nested = {"a": nested}
        response = await client.post(
            "/api/experiments", json={"experiment": "default", "overrides": nested}
        )
        assert response.status_code == 422 and "overrides: nested deeper" in response.text


async def test_name_filter_takes_percent_and_underscore_literally(server: ServerProcess) -> None:
    yaml_text = (ACTIVE["registries"] / "experiments" / "default.yaml").read_text()
    async with server.client() as client:
        for name in ("a_b", "axb", "100pct"):
            made = await client.post(
                "/api/experiments", json={"yaml": f"name: {name}\n{yaml_text}"}
            )
            assert made.status_code == 201, made.text
        names = lambda r: sorted(i["name"] for i in r.json()["items"])  # noqa: E731
        assert names(await client.get("/api/experiments", params={"name": "a_b"})) == ["a_b"]
        assert names(await client.get("/api/experiments", params={"name": "_"})) == ["a_b"]
        assert names(await client.get("/api/experiments", params={"name": "%"})) == []
        assert names(await client.get("/api/experiments", params={"name": "pct"})) == ["100pct"]


# --- sizes -------------------------------------------------------------------------------------


async def test_one_body_limit_for_every_body_and_bounded_fields(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(tmp_path / "work", sqlite_url, extra=["--max-body-mb", "1"]).start()
    server_factory.append(server)
    blob = b"dataset;task;model_name\n" + b"x;y;z\n" * 400_000  # 2.4 MB
    async with server.client() as client:
        upload = await client.post(
            "/api/experiments", files={"user_config": ("user_config.csv", blob, "text/csv")}
        )
        assert upload.status_code == 413, upload.text
        assert "body" in upload.json()["detail"]
        as_json = await client.post(
            "/api/experiments", json={"experiment": "default", "pad": "x" * 2_000_000}
        )
        assert as_json.status_code == 413

        async def chunks():  # no Content-Length: the limit holds while reading
            yield (
                b'--zzz\r\nContent-Disposition: form-data; name="user_config"; '
                b'filename="u.csv"\r\nContent-Type: text/csv\r\n\r\n'
            )
            for _ in range(40):
                yield b"x;y;z\n" * 10000
            yield b"\r\n--zzz--\r\n"

        chunked = await client.post(
            "/api/experiments",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=zzz"},
        )
        assert chunked.status_code == 413, chunked.text
        long = await client.post(
            "/api/experiments",
            json={"experiment": "default", "overrides": {"description": "d" * 200_000}},
        )
        assert long.status_code == 422, long.text
        assert "overrides.description: at most 4096 characters" in long.text
        # the server is fine afterwards
        assert (await client.get("/api/experiments")).status_code == 200


# --- cancel, concurrency, files ------------------------------------------------------------


async def test_cancel_right_after_submit_stops_the_run(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(
        tmp_path / "work",
        sqlite_url,
        env={"SCRIPTED_DELAY_S": "0.3", "SCRIPTED_PROGRESS": "40"},  # a run takes minutes
        extra=["--max-concurrent", "4"],
    ).start()
    server_factory.append(server)
    async with server.client() as client:
        ids = []
        for _ in range(8):
            made = await client.post("/api/experiments", json={"experiment": "default"})
            ids.append(made.json()["id"])
            answer = await client.post(f"/api/experiments/{ids[-1]}/cancel")
            assert answer.json()["status"] in ("cancelled", "cancelling"), answer.text
        for exp_id in ids:
            done = await wait_status(client, exp_id, {"cancelled", "done", "failed"}, 45)
            assert done["status"] == "cancelled", done
            finished = [s for s in done["stages"] if s.get("state") == "done"]
            assert len(finished) < len(done["stages"]), done["stages"]


async def test_identical_submissions_at_once_all_succeed(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(tmp_path / "work", sqlite_url, extra=["--max-concurrent", "2"]).start()
    server_factory.append(server)
    async with server.client() as client:

        async def submit() -> httpx.Response:
            return await client.post(
                "/api/experiments",
                files={"user_config": ("user_config.csv", user_config("vqa-question"), "text/csv")},
                data={"limit": "1"},
            )

        answers = await asyncio.gather(*(submit() for _ in range(50)))
        assert [a.status_code for a in answers] == [201] * 50, [
            a.text for a in answers if a.status_code != 201
        ][:3]
        # the queue runs by id, and concurrent requests get their ids in no particular order:
        # the first four of the queue, not of the list
        for exp_id in sorted(a.json()["id"] for a in answers)[:4]:
            done = await wait_status(client, exp_id, {"done", "failed"}, 120)
            assert done["status"] == "done", done


async def test_database_and_work_dir_are_private(tmp_path: Path, server_factory: list) -> None:
    workdir = tmp_path / "fresh" / "work"
    url = f"sqlite+aiosqlite:///{workdir / 'server.sqlite'}"
    old = os.umask(0o022)  # the usual default: what the server must not rely on
    try:  # the helper's own log folder is tmp_path/logs; the server's work dir is `workdir`
        server = ServerProcess(tmp_path / "logs", url, extra=["--workdir", str(workdir)])
        server.start()
    finally:
        os.umask(old)
    server_factory.append(server)
    assert stat.S_IMODE(workdir.stat().st_mode) == 0o700
    assert stat.S_IMODE((workdir / "server").stat().st_mode) == 0o700
    for name in ("server.sqlite", "server.sqlite-wal"):
        assert stat.S_IMODE((workdir / name).stat().st_mode) == 0o600, name


async def test_security_headers(read_only_server: ServerProcess) -> None:
    server = read_only_server
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path in ("/", "/experiments/1", "/api/health"):
            response = await client.get(path)
            csp = response.headers.get("content-security-policy", "")
            assert "frame-ancestors 'none'" in csp, (path, csp)
            assert response.headers["x-content-type-options"] == "nosniff"
        page = await client.get("/")
        if page.headers.get("content-type", "").startswith("text/html"):
            assert "script-src 'self'" in page.headers["content-security-policy"]


def test_worker_reads_the_database_url_from_its_environment() -> None:
    """The server passes the URL in the worker's environment; the worker needs nothing else."""
    from vlmhb_server.settings import DATABASE_URL_ENV

    env = {k: v for k, v in os.environ.items() if k != DATABASE_URL_ENV}
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "vlmhb_server.worker",
            "--experiment",
            "1",
            "--workdir",
            ".",
            "--registries",
            ".",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and DATABASE_URL_ENV in missing.stderr
