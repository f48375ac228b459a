"""Model configs are checked before any weights are read, with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from vlmhb_transformers_adapter import (
    ConfigError,
    LoadError,
    TransformersBackend,
    machine_threads,
    parse_config,
)


def test_a_good_config_resolves_the_path(tiny_model: Path, monkeypatch) -> None:
    monkeypatch.setenv("TINY_HOME", str(tiny_model.parent))
    parsed = parse_config(
        {"model": "$TINY_HOME/tiny-qwen2-vl", "engine": "transformers", "dtype": "float32"}
    )
    assert parsed.model == str(tiny_model.resolve())
    assert parsed.torch_threads() == machine_threads()


def test_engine_args_may_be_nested(tiny_model: Path) -> None:
    parsed = parse_config({"model": str(tiny_model), "engine_args": {"threads": 10_000}})
    assert parsed.threads == 10_000 and parsed.torch_threads() == machine_threads()
    with pytest.raises(ConfigError, match=r"\['threads'\] given both flat and under"):
        parse_config({"model": str(tiny_model), "threads": 1, "engine_args": {"threads": 2}})


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, "field 'model': Field required"),
        ({"model": "/nonexistent/ckpt"}, "field 'model': '/nonexistent/ckpt' is not a folder"),
        ({"model": "$VLMHB_SURELY_UNSET/x"}, "an environment variable in it is not set"),
        ({"model": "MODEL", "device": "tpu"}, "field 'device'"),
        ({"model": "MODEL", "dtype": "int4"}, "field 'dtype'"),
        ({"model": "MODEL", "max_batch_size": 0}, "field 'max_batch_size'"),
        ({"model": "MODEL", "engine": "vllm"}, "field 'engine'"),
        ({"model": "MODEL", "gpu_memory_utilization": 0.5}, "field 'gpu_memory_utilization': not"),
    ],
)
def test_bad_configs_name_the_field(tiny_model: Path, config: dict, expected: str) -> None:
    config = {k: str(tiny_model) if v == "MODEL" else v for k, v in config.items()}
    with pytest.raises(ConfigError, match="transformers model config is invalid") as caught:
        parse_config(config)
    assert expected in str(caught.value)


def test_a_folder_without_config_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no config\.json"):
        parse_config({"model": str(tmp_path)})


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
async def test_cuda_without_a_gpu_says_so(tiny_model: Path) -> None:
    backend = TransformersBackend()
    with pytest.raises(LoadError, match="sees no CUDA device"):
        await backend.load({"model": str(tiny_model), "device": "cuda"})
    assert backend.info()["loaded"] is False
