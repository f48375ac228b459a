"""Secrets in a service spec never serialise in clear; as files they are the owner's only."""

from __future__ import annotations

import pickle
import stat
from pathlib import Path

from vlmhb_executor_api import ServiceSpec, with_secret_files, write_secrets
from vlmhb_executor_api.services import substitute

KEY = "sk-test-Zq7Yx0-never-serialised"


def _spec(tmp_path: Path) -> ServiceSpec:
    return ServiceSpec(
        name="serve-abc",
        sources=[],
        command=["vlmhb-serve", "--host", "{host}", "--api-key-file", "{secret:api_key}"],
        log_dir=tmp_path / "servers" / "toy",
        secrets={"api_key": KEY},
    )


def test_a_dumped_or_printed_spec_does_not_hold_the_key(tmp_path: Path):
    spec = _spec(tmp_path)
    assert KEY not in spec.model_dump_json()
    assert KEY not in str(spec.model_dump(mode="json"))
    assert KEY not in repr(spec)
    assert spec.secrets["api_key"].get_secret_value() == KEY


def test_a_spec_with_secret_files_holds_no_secret_even_pickled(tmp_path: Path):
    sent = with_secret_files(_spec(tmp_path))
    assert sent.secrets == {}
    assert KEY not in sent.model_dump_json()
    assert KEY.encode() not in pickle.dumps(sent)
    path = tmp_path / "servers" / "toy" / "secrets" / "api_key"
    assert sent.command == ["vlmhb-serve", "--host", "{host}", "--api-key-file", str(path)]
    assert path.read_text(encoding="utf-8") == KEY


def test_secret_files_are_readable_by_their_owner_only(tmp_path: Path):
    paths = write_secrets(tmp_path / "secrets", _spec(tmp_path).secrets)
    mode = stat.S_IMODE(paths["api_key"].stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) & 0o077 == 0


def test_a_spec_without_secrets_is_left_as_it_is(tmp_path: Path):
    spec = _spec(tmp_path).model_copy(update={"secrets": {}})
    assert with_secret_files(spec) is spec
    assert not (tmp_path / "servers").exists()


def test_placeholders_are_filled_in_every_argument():
    assert substitute(["--url=http://{host}:{port}/"], {"host": "h", "port": "1"}) == [
        "--url=http://h:1/"
    ]
