"""Hostile or odd input to the data layer (issue 17 items 7-10), against a real S3 server."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from hashlib import md5
from pathlib import Path

import pytest
from conftest import SECRET
from vlmhb_data_layer import DataLayerError, SmartSyncManager
from vlmhb_data_layer.cli import main

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _data_files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".vlmhb-")
    }


def _leftovers(root: Path) -> list[str]:
    """Temporary files (ours, s3transfer's, vlmhb-data-layer 0.2's) and empty files but the lock."""
    return [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if ".part" in p.name
        or (p.is_file() and p.stat().st_size == 0 and p.name != ".vlmhb-sync.lock")
    ]


# -- item 7: folder markers, file/folder clashes, names too long ---------------------------


def test_folder_markers_are_skipped_and_heal_an_old_cache(s3, tmp_path: Path) -> None:
    s3.put("ds/", b"")  # the prefix's own marker
    s3.put("ds/sub/", b"")  # what S3 consoles create for "new folder"
    s3.put("ds/sub/x.txt", b"x")
    s3.put("ds/other/", b"")  # an empty folder: nothing to write
    cache = tmp_path / "cache"
    manager = SmartSyncManager(endpoint_url=s3.endpoint)
    result = manager.sync("s3://data/ds", cache)
    assert result.transferred == ["sub/x.txt"] and result.warnings == []
    assert _data_files(cache) == {"sub/x.txt": b"x"} and _leftovers(cache) == []
    assert manager.sync("s3://data/ds", cache).skipped == 1

    # a cache that 0.2 broke: the marker became a 0-byte file "sub", recorded in the manifest
    old = tmp_path / "old"
    old.mkdir()
    (old / "sub").write_bytes(b"")
    (old / ".vlmhb-manifest.json").write_text(json.dumps({"sub/": {"size": 0, "etag": EMPTY_MD5}}))
    healed = manager.sync("s3://data/ds", old)
    assert healed.transferred == ["sub/x.txt"] and healed.removed == ["sub/"]
    assert _data_files(old) == {"sub/x.txt": b"x"}


def test_a_marker_with_content_is_skipped_with_a_warning(s3, tmp_path: Path) -> None:
    s3.put("ds/odd/", b"data in a folder marker")
    s3.put("ds/a.txt", b"a")
    result = SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", tmp_path / "c")
    assert result.transferred == ["a.txt"]
    assert any("ds/odd/" in w and "cannot be a file" in w for w in result.warnings)


def test_a_file_and_a_folder_of_the_same_name_are_refused(s3, tmp_path: Path, capsys) -> None:
    s3.put("ds/a", b"file")
    s3.put("ds/a/b", b"file below")
    s3.put("ds/z.txt", b"z")
    cache = tmp_path / "cache"
    with pytest.raises(DataLayerError, match=r"keys 'a' and 'a/b' conflict") as caught:
        SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", cache)
    assert "before writing anything" in str(caught.value)
    assert _data_files(cache) == {} and _leftovers(cache) == []
    code = main(["sync", "s3://data/ds", str(cache), "--endpoint-url", s3.endpoint])
    err = capsys.readouterr().err
    assert code == 2 and "'a/b'" in err and "Traceback" not in err


def test_keys_that_collapse_to_one_path_are_refused(s3, tmp_path: Path) -> None:
    s3.put("ds/a/b.txt", b"1")
    s3.put("ds/a//b.txt", b"2")
    with pytest.raises(DataLayerError, match="name the same file"):
        SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", tmp_path / "c")


def test_a_key_too_long_for_the_filesystem_is_named(s3, tmp_path: Path, capsys) -> None:
    long_name = "x" * 300 + ".txt"
    s3.put(f"ds/{long_name}", b"long")
    s3.put("ds/fine.txt", b"fine")
    cache = tmp_path / "cache"
    with pytest.raises(DataLayerError, match="longer than this filesystem allows") as caught:
        SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", cache)
    assert long_name in str(caught.value)
    assert _data_files(cache) == {} and _leftovers(cache) == []
    assert main(["sync", "s3://data/ds", str(cache), "--endpoint-url", s3.endpoint]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_file_in_the_way_at_the_destination_is_named(s3, tmp_path: Path) -> None:
    s3.put("ds/a/b.txt", b"b")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a").write_text("the user's own file, not from this sync")
    with pytest.raises(DataLayerError, match=r"'a/b.txt'.*is a file at the destination"):
        SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", cache)
    assert (cache / "a").read_text().startswith("the user's") and _leftovers(cache) == []


# -- item 8: symbolic links never lead out of the source -----------------------------------


def _source_with_links(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0")
    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "images" / "a.png").write_bytes(b"png")
    (src / "passwd").symlink_to(outside / "passwd")
    (src / "etc").symlink_to(outside, target_is_directory=True)
    (src / "dangling").symlink_to(tmp_path / "nothing-here")
    (src / "same.png").symlink_to(src / "images" / "a.png")  # inside: read as a file
    os.mkfifo(src / "pipe")  # would hang a reader
    return src


def test_a_local_source_never_follows_links_out(s3, tmp_path: Path, capsys) -> None:
    src = _source_with_links(tmp_path)
    result = SmartSyncManager().sync(str(src), tmp_path / "cache")
    assert _data_files(tmp_path / "cache") == {"images/a.png": b"png", "same.png": b"png"}
    joined = "\n".join(result.warnings)
    for name in ("passwd", "etc", "dangling", "pipe"):
        assert str(src / name) in joined

    assert main(["sync", str(src), "s3://data/up", "--endpoint-url", s3.endpoint]) == 0
    listing = s3.client.list_objects_v2(Bucket="data", Prefix="up/")["Contents"]
    assert sorted(o["Key"] for o in listing) == ["up/images/a.png", "up/same.png"]
    err = capsys.readouterr().err
    assert f"warning: skipped {src / 'passwd'}: a symbolic link out of the source folder" in err


def test_a_link_in_the_destination_is_not_written_through(s3, tmp_path: Path) -> None:
    s3.put("ds/etc/passwd", b"from the bucket")
    outside = tmp_path / "outside"
    outside.mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "etc").symlink_to(outside, target_is_directory=True)
    with pytest.raises(DataLayerError, match="is a symbolic link"):
        SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", cache)
    assert list(outside.iterdir()) == []
    # a mirror that may delete extras removes the link itself, then writes a real folder
    SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/ds", cache, delete="all")
    assert not (cache / "etc").is_symlink() and (cache / "etc" / "passwd").read_bytes() == (
        b"from the bucket"
    )
    assert list(outside.iterdir()) == []


# -- item 9: kill -9, temporary files, the journal, reserved names --------------------------

CHILD = """
import sys
from pathlib import Path
from vlmhb_data_layer import SmartSyncManager

SmartSyncManager(endpoint_url=sys.argv[1]).sync(
    "s3://data/big", Path(sys.argv[2]), on_file=lambda key: print(key, flush=True)
)
"""


def test_kill_9_mid_sync_then_resume(s3, tmp_path: Path) -> None:
    for i in range(12):  # big enough that a download is in flight when the child is killed
        s3.put(f"big/{i:03d}.bin", bytes([i]) * (4 * 2**20))
    cache = tmp_path / "cache"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, s3.endpoint, str(cache)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        done = [child.stdout.readline().strip() for _ in range(4)]  # type: ignore[union-attr]
        assert done == ["000.bin", "001.bin", "002.bin", "003.bin"]
        deadline = time.monotonic() + 60
        while not list(cache.glob(".vlmhb-part-*")) and time.monotonic() < deadline:
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert list(cache.glob(".vlmhb-part-*")), "the kill should land during a download"
    (cache / ".annotation.csv.part-4242").write_bytes(b"")  # vlmhb-data-layer 0.2's naming
    journaled = [
        json.loads(line)["key"]
        for line in (cache / ".vlmhb-journal.jsonl").read_text().splitlines()
        if '"put"' in line
    ]
    assert len(journaled) >= 4
    assert json.loads((cache / ".vlmhb-manifest.json").read_text()) == {}  # no full save yet

    # the killed cache used as a source: no temporary file, no state file travels
    copy = SmartSyncManager().sync(str(cache), tmp_path / "copy")
    assert sorted(copy.transferred) == sorted(journaled)
    assert _leftovers(tmp_path / "copy") == []

    # a file fetched after the last full save, then deleted at the source
    s3.client.delete_object(Bucket="data", Key="big/002.bin")
    resumed = SmartSyncManager(endpoint_url=s3.endpoint).sync("s3://data/big", cache)
    assert resumed.removed == ["002.bin"] and not (cache / "002.bin").exists()
    assert resumed.skipped == len(journaled) - 1
    assert len(resumed.transferred) + resumed.skipped == 11
    assert _leftovers(cache) == []
    assert not (cache / ".vlmhb-journal.jsonl").exists()
    files = _data_files(cache)
    assert len(files) == 11 and files["011.bin"] == bytes([11]) * (4 * 2**20)


def test_a_torn_journal_line_is_ignored(s3, tmp_path: Path) -> None:
    s3.put("ds/a.txt", b"a")
    s3.put("ds/b.txt", b"b")
    cache = tmp_path / "cache"
    manager = SmartSyncManager(endpoint_url=s3.endpoint)
    manager.sync("s3://data/ds", cache)
    (cache / ".vlmhb-manifest.json").write_text("{}")
    put_a = json.dumps({"op": "put", "key": "a.txt", "size": 1, "etag": md5(b"a").hexdigest()})
    put_b = json.dumps({"op": "put", "key": "b.txt", "size": 1, "etag": md5(b"b").hexdigest()})
    (cache / ".vlmhb-journal.jsonl").write_text(put_a + "\n" + put_b[:30])  # killed mid-line
    again = manager.sync("s3://data/ds", cache)
    assert again.skipped == 1 and again.transferred == ["b.txt"]


def test_a_source_key_named_like_our_state_is_skipped(s3, tmp_path: Path) -> None:
    s3.put("ds/.vlmhb-manifest.json", b'{"evil.txt": {"size": 1, "etag": "x"}}')
    s3.put("ds/.vlmhb-journal.jsonl", b"garbage\n")
    s3.put("ds/data.txt", b"data")
    cache = tmp_path / "cache"
    manager = SmartSyncManager(endpoint_url=s3.endpoint)
    first = manager.sync("s3://data/ds", cache)
    assert first.transferred == ["data.txt"]
    assert any(".vlmhb-manifest.json" in w and "reserved" in w for w in first.warnings)
    second = manager.sync("s3://data/ds", cache)
    assert second.transferred == [] and second.skipped == 1  # not fetched on every run
    assert set(json.loads((cache / ".vlmhb-manifest.json").read_text())) == {"data.txt"}


# -- item 10: credentials in the endpoint URL ----------------------------------------------


def test_credentials_in_the_endpoint_are_used_and_never_shown(
    s3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    s3.put("ds/a.txt", b"a")
    host = s3.endpoint.removeprefix("http://")
    with_secret = f"http://KEYID:{SECRET}@{host}"
    result = SmartSyncManager(endpoint_url=with_secret).sync("s3://data/ds", tmp_path / "c")
    assert result.transferred == ["a.txt"]  # the pair in the URL was used

    with pytest.raises(DataLayerError) as caught:
        SmartSyncManager(endpoint_url=f"http://KEYID:{SECRET}@127.0.0.1:1", max_attempts=1).sync(
            "s3://data/ds", tmp_path / "d"
        )
    assert "cannot reach http://127.0.0.1:1" in str(caught.value)
    assert SECRET not in str(caught.value)

    code = main(
        ["sync", "s3://data/ds", str(tmp_path / "e"), "--endpoint-url", f"ftp://K:{SECRET}@h"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "ftp://***@h" in err and SECRET not in err
    with pytest.raises(DataLayerError) as caught:
        SmartSyncManager().sync(f"s3://K:{SECRET}@bucket/x", tmp_path / "f")
    assert SECRET not in str(caught.value) and "AWS_ACCESS_KEY_ID" in str(caught.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(SmartSyncManager(endpoint_url=with_secret))
    assert DataLayerError(f"failed at {with_secret}/x").args[0] == f"failed at http://***@{host}/x"
