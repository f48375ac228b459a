"""Same data everywhere: datasets pin their content with ``checksum``; the sync stage checks it."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import REPO, write_overlay

WRONG = "sha256:" + "0" * 64


def _experiment(root: Path, checksum: str | None) -> Path:
    dataset = yaml.safe_load(
        (REPO / "registries" / "datasets" / "synthetic-docs-ocr.yaml").read_text(encoding="utf-8")
    )
    dataset["checksum"] = checksum
    return write_overlay(
        root,
        {
            "datasets": {"pinned-ocr": dataset},
            "experiments": {
                "pinned": {
                    "matrix": {
                        "models": ["tesseract"],
                        "datasets": ["pinned-ocr"],
                        "prompts": ["ocr-plain"],
                        "metrics": ["cer"],
                        "limit": 1,
                    }
                }
            },
        },
    )


def test_the_default_datasets_match_their_pinned_checksums(vlmhb, tmp_path: Path) -> None:
    """The shipped checksums are what the generator makes here, in any work dir (a pinned
    dataset is synced whole even under a limit: the pin is the whole dataset's)."""
    shipped = yaml.safe_load(
        (REPO / "registries" / "datasets" / "synthetic-docs-ocr.yaml").read_text("utf-8")
    )
    overlay = _experiment(tmp_path / "overlay", shipped["checksum"])
    for workdir in (tmp_path / "one", tmp_path / "two"):
        vlmhb("run", "pinned", "--workdir", str(workdir), "--overlay", str(overlay), check=True)
        [manifest] = list((workdir / "datasets").glob("*/manifest.json"))
        fingerprint = json.loads(manifest.read_text(encoding="utf-8"))["fingerprint"]
        assert fingerprint == shipped["checksum"]


def test_a_changed_dataset_is_refused_by_its_checksum(vlmhb, tmp_path: Path) -> None:
    overlay = _experiment(tmp_path / "overlay", WRONG)
    workdir = tmp_path / "work"
    proc = vlmhb("run", "pinned", "--workdir", str(workdir), "--overlay", str(overlay))
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert "pinned-ocr" in output and WRONG in output and "--accept-data-change" in output
    assert not list((workdir / "datasets").glob("*/.done"))  # not taken as prepared
    assert not (workdir / "runs").exists()  # nothing was asked of the model

    accepted = vlmhb(
        "run",
        "pinned",
        "--workdir",
        str(workdir),
        "--overlay",
        str(overlay),
        "--accept-data-change",
    )
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
