"""Resource requests from specs: what Ray gets, and errors that name the model and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from vlmhb_executor_api import ServiceSpec, StageSpec
from vlmhb_ray_executor import ResourceError, custom_resources, service_options, stage_options


def _service(labels: dict[str, str] | None = None, **extra: object) -> ServiceSpec:
    return ServiceSpec(
        name="serve-abc",
        sources=[],
        command=["vlmhb-serve"],
        log_dir=Path("/tmp/x"),
        labels={"org.vlmhyperbench.model": "qwen", **(labels or {})},
        **extra,  # type: ignore[arg-type]
    )


def test_model_resources_map_to_ray_options():
    options = service_options(
        _service(gpus=2, cpus=4, memory_gb=1.5, env={"VLMHB_RAY_RESOURCES": '{"a100": 1}'})
    )
    assert options == {
        "num_gpus": 2,
        "num_cpus": 4,
        "memory": int(1.5 * 1024**3),
        "resources": {"a100": 1.0},
    }


def test_a_server_without_resources_keeps_rays_defaults():
    assert service_options(_service()) == {}


def test_label_and_env_both_pin():
    spec = _service(labels={"ray_resources": '{"x": 2}'}, env={"VLMHB_RAY_RESOURCES": '{"y": 1}'})
    assert service_options(spec)["resources"] == {"x": 2.0, "y": 1.0}


def test_stage_options():
    spec = StageSpec(name="eval-1", sources=[], command=["python"], output_dir=Path("/tmp"), gpus=1)
    assert stage_options(spec, 0.5) == {"num_cpus": 0.5, "num_gpus": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not json", "expected a JSON object"),
        ("[1, 2]", "expected a JSON object"),
        ('{"big": 0}', "'big' needs a positive number"),
        ('{"big": "one"}', "'big' needs a positive number"),
        ('{"GPU": 1}', "not a custom resource"),
    ],
)
def test_bad_custom_resources_name_model_and_field(text: str, expected: str):
    with pytest.raises(ResourceError, match=expected) as info:
        service_options(_service(env={"VLMHB_RAY_RESOURCES": text}))
    assert "model 'qwen': env VLMHB_RAY_RESOURCES" in str(info.value)


def test_empty_means_none():
    assert custom_resources("", "x") == {} and custom_resources(None, "x") == {}
