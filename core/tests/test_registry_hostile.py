"""Hostile registry files must not freeze, exhaust or leak: each is one clear problem line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_factory import write_registry
from vlmhyperbench.registry import RegistryError, RegistryManager

BILLION_LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    + ["description: *i", "framework: ocr", "model: {engine: tesseract}"]
)


def _problems(registries: Path) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        RegistryManager(registries, mode="prod").load()
    return [p.render(registries.parent) for p in caught.value.problems]


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    (registries / "models" / "bomb.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    [problem] = _problems(registries)
    assert problem.startswith("registries/models/bomb.yaml") and "aliases expand" in problem


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    (registries / "models" / "huge.yaml").write_text("description: " + "x" * (2 << 20))
    [problem] = _problems(registries)
    assert "over the 1048576-byte limit" in problem and "VLMHB_REGISTRY_MAX_BYTES" in problem


def test_devices_fifos_and_links_out_are_refused_without_echoing_content(tmp_path: Path) -> None:
    registries = write_registry(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("root: s3cr3t-hash\n", encoding="utf-8")
    (registries / "models" / "zero.yaml").symlink_to("/dev/zero")
    (registries / "models" / "outside.yaml").symlink_to(secret)
    os.mkfifo(registries / "models" / "pipe.yaml")
    problems = "\n".join(_problems(registries))
    assert "models/zero.yaml" in problems and "models/pipe.yaml" in problems
    assert "not a regular file" in problems
    assert "models/outside.yaml" in problems and "symlink out of the registries" in problems
    assert "s3cr3t" not in problems and "root" not in problems


def test_validate_on_hostile_files_ends_quickly_with_exit_2(tmp_path: Path) -> None:
    """Through the CLI, as a user would: no hang on the FIFO, no MemoryError, no traceback."""
    registries = write_registry(tmp_path)
    (registries / "models" / "bomb.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    os.mkfifo(registries / "models" / "pipe.yaml")
    proc = subprocess.run(
        [sys.executable, "-m", "vlmhyperbench", "validate", "--registries", str(registries)],
        capture_output=True,
        text=True,
        timeout=60,  # a FIFO read would block forever: a liveness bound, not a speed figure
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
    assert "bomb.yaml" in proc.stderr and "pipe.yaml" in proc.stderr
