"""``vlmhb-data sync A B`` mirrors contents both ways, like ``aws s3 sync`` (issue 18 item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vlmhb_data_layer import RESERVED_PREFIX, DataLayerError, SmartSyncManager
from vlmhb_data_layer.cli import main


def _tree(root: Path) -> dict[str, bytes]:
    """The data files under root (the sync's own reserved state files left out)."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and not any(p.startswith(RESERVED_PREFIX) for p in path.parts)
    }


def _source(root: Path) -> Path:
    (root / "images" / "deep").mkdir(parents=True)
    (root / "annotation.csv").write_text("id;text\n1;hello\n")
    (root / "images" / "a.png").write_bytes(b"\x89PNG" + bytes(range(200)))
    (root / "images" / "deep" / "b.txt").write_text("b")
    (root / "empty.txt").write_bytes(b"")
    (root / "big.bin").write_bytes(b"\x02" * (6 * 2**20))  # multipart above 5 MiB below
    return root


def _keys(s3, prefix: str) -> set[str]:
    listing = s3.client.list_objects_v2(Bucket="data", Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :] for o in listing}


def _sync(s3, *args: str) -> int:
    return main(["sync", *args, "--endpoint-url", s3.endpoint])


def test_round_trip_through_s3_is_the_identity(s3, tmp_path: Path, capsys) -> None:
    src = _source(tmp_path / "src")
    assert _sync(s3, str(src), "s3://data/ds1") == 0
    assert "transferred 5, skipped 0, removed 0, failed 0" in capsys.readouterr().out
    # contents at the prefix itself: no folder named after the source, no manifest object
    assert _keys(s3, "ds1/") == set(_tree(src))
    assert _sync(s3, "s3://data/ds1", str(tmp_path / "dst")) == 0
    assert "transferred 5" in capsys.readouterr().out
    assert _tree(tmp_path / "dst") == _tree(src)

    # both ways again: nothing changed, nothing copied
    assert _sync(s3, str(src), "s3://data/ds1") == 0
    assert "transferred 0, skipped 5" in capsys.readouterr().out
    assert _sync(s3, "s3://data/ds1", str(tmp_path / "dst")) == 0
    assert "transferred 0, skipped 5" in capsys.readouterr().out

    # and back up from the copy: the destination's state files never travel as data
    assert _sync(s3, str(tmp_path / "dst"), "s3://data/ds2") == 0
    assert _keys(s3, "ds2/") == set(_tree(src))


def test_multipart_objects_are_recognised_as_unchanged(s3, tmp_path: Path) -> None:
    src = _source(tmp_path / "src")
    manager = SmartSyncManager(endpoint_url=s3.endpoint, multipart_threshold=5 * 2**20)
    assert "big.bin" in manager.mirror(str(src), "s3://data/mp").transferred
    head = s3.client.head_object(Bucket="data", Key="mp/big.bin")
    assert "-" in head["ETag"]  # really a multipart upload
    again = manager.mirror(str(src), "s3://data/mp")
    assert again.transferred == [] and again.skipped == 5
    (src / "big.bin").write_bytes(b"\x03" * (6 * 2**20))  # same size, new content
    assert manager.mirror(str(src), "s3://data/mp").transferred == ["big.bin"]


def test_extra_files_are_kept_unless_delete_is_asked(s3, tmp_path: Path, capsys) -> None:
    src = _source(tmp_path / "src")
    assert _sync(s3, str(src), "s3://data/ds") == 0
    s3.put("ds/extra-remote.txt", b"x")
    s3.put("ds/sub/", b"")  # a console's folder marker is not an extra file
    (src / "empty.txt").unlink()
    assert _sync(s3, str(src), "s3://data/ds") == 0
    assert {"extra-remote.txt", "empty.txt"} <= _keys(s3, "ds/")  # default: nothing deleted
    capsys.readouterr()
    assert _sync(s3, str(src), "s3://data/ds", "--delete") == 0
    assert "removed 2" in capsys.readouterr().out
    assert _keys(s3, "ds/") == set(_tree(src)) | {"sub/"}

    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "mine.txt").write_text("a file of the user's")
    assert _sync(s3, "s3://data/ds", str(dst)) == 0
    assert (dst / "mine.txt").exists()
    s3.client.delete_object(Bucket="data", Key="ds/annotation.csv")
    assert _sync(s3, "s3://data/ds", str(dst)) == 0
    assert (dst / "annotation.csv").exists()  # default: kept, like aws s3 sync
    assert _sync(s3, "s3://data/ds", str(dst), "--delete") == 0
    assert _tree(dst) == {k: v for k, v in _tree(src).items() if k != "annotation.csv"}


def test_local_to_local_mirrors_contents(tmp_path: Path, capsys) -> None:
    src = _source(tmp_path / "src")
    assert main(["sync", str(src), str(tmp_path / "dst")]) == 0
    assert _tree(tmp_path / "dst") == _tree(src)
    (src / "images" / "a.png").write_bytes(b"new")
    (src / "images" / "deep" / "b.txt").unlink()
    assert main(["sync", str(src), str(tmp_path / "dst"), "--delete"]) == 0
    assert _tree(tmp_path / "dst") == _tree(src)
    assert not (tmp_path / "dst" / "images" / "deep").exists()  # emptied folders go too
    capsys.readouterr()
    assert main(["sync", str(src), str(src / "inside")]) == 2
    assert "overlap" in capsys.readouterr().err
    assert main(["sync", str(tmp_path / "missing"), str(tmp_path / "x")]) == 2
    assert "expected an existing folder" in capsys.readouterr().err


def test_bad_pairs_are_refused_with_a_reason(s3, tmp_path: Path, capsys) -> None:
    assert _sync(s3, "s3://data/a", "s3://data/b") == 2
    assert "two s3:// locations" in capsys.readouterr().err
    assert main(["sync", "ftp://x/y", str(tmp_path / "z")]) == 2
    assert "expected an s3:// URL" in capsys.readouterr().err
    manager = SmartSyncManager(endpoint_url=s3.endpoint)
    with pytest.raises(DataLayerError, match="needs a local destination"):
        manager.mirror(str(_source(tmp_path / "src")), "s3://data/x", delete="synced")
    with pytest.raises(DataLayerError, match="expected one of"):
        manager.sync(str(tmp_path / "src"), tmp_path / "d", delete="everything")  # type: ignore[arg-type]
