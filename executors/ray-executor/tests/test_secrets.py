"""A model server's key never travels in the spec a Ray actor is given (no cluster needed)."""

from __future__ import annotations

import stat
from pathlib import Path

from vlmhb_executor_api import ServiceSpec
from vlmhb_ray_executor import service_spec_json

KEY = "sk-ray-Qm81-never-in-a-task-argument"


def test_the_spec_sent_to_the_actor_holds_no_key_only_the_path_of_its_file(tmp_path: Path):
    spec = ServiceSpec(
        name="serve-abc",
        sources=[],
        command=["vlmhb-serve", "--port", "{port}", "--api-key-file", "{secret:api_key}"],
        log_dir=tmp_path / "servers" / "toy",
        secrets={"api_key": KEY},
    )
    sent = service_spec_json(spec)
    assert KEY not in sent
    received = ServiceSpec.model_validate_json(sent)
    assert received.secrets == {}
    key_file = tmp_path / "servers" / "toy" / "secrets" / "api_key"
    assert received.command[-1] == str(key_file)
    assert received.command[2] == "{port}"  # the worker still fills in host and port
    assert key_file.read_text(encoding="utf-8") == KEY
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
