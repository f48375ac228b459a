"""Where a stage or a model server may run: Ray resource options from a spec.

``gpus`` becomes ``num_gpus``, ``cpus`` ``num_cpus``, ``memory_gb`` ``memory`` (bytes). Custom
Ray resources (a node started with ``--resources='{"big-gpu": 1}'``) pin a model server to the
nodes that have them: a model entry names them in its ``env`` as ``VLMHB_RAY_RESOURCES``
(JSON, e.g. ``{"big-gpu": 1}``), or a service label ``ray_resources`` carries the same JSON.
"""

from __future__ import annotations

import json
from typing import Any

RESOURCES_ENV = "VLMHB_RAY_RESOURCES"
RESOURCES_LABEL = "ray_resources"
MODEL_LABEL = "org.vlmhyperbench.model"
_BUILTIN = {"CPU", "GPU", "memory", "object_store_memory"}


class ResourceError(ValueError):
    """A custom-resource request that Ray cannot take; names the model and the field."""


def custom_resources(text: str | None, where: str) -> dict[str, float]:
    """Parse a ``{"name": amount}`` JSON object; ``where`` names its origin in errors."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResourceError(
            f'{where}: expected a JSON object such as {{"big-gpu": 1}}, got {text!r} ({exc.msg})'
        ) from None
    if not isinstance(value, dict):
        raise ResourceError(
            f'{where}: expected a JSON object such as {{"big-gpu": 1}}, got {text!r}'
        )
    out: dict[str, float] = {}
    for name, amount in value.items():
        if name in _BUILTIN:
            raise ResourceError(
                f"{where}: {name!r} is not a custom resource; use the model's resources "
                "(gpus, cpus, memory_gb) instead"
            )
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
            raise ResourceError(
                f"{where}: resource {name!r} needs a positive number, got {amount!r}"
            )
        out[str(name)] = float(amount)
    return out


def service_options(spec: Any) -> dict[str, Any]:
    """Ray actor options for a ``ServiceSpec``.

    A server that names no CPUs keeps Ray's actor default (one CPU to be placed, none held
    while it runs), so servers never starve the stage tasks of CPU slots.
    """
    model = spec.labels.get(MODEL_LABEL, spec.name)
    options: dict[str, Any] = {}
    if spec.gpus:
        options["num_gpus"] = spec.gpus
    if spec.cpus is not None:
        options["num_cpus"] = spec.cpus
    if spec.memory_gb is not None:
        options["memory"] = int(spec.memory_gb * 1024**3)
    resources = custom_resources(
        spec.labels.get(RESOURCES_LABEL), f"model {model!r}: label {RESOURCES_LABEL}"
    )
    resources.update(
        custom_resources(spec.env.get(RESOURCES_ENV), f"model {model!r}: env {RESOURCES_ENV}")
    )
    if resources:
        options["resources"] = resources
    return options


def stage_options(spec: Any, cpus: float) -> dict[str, Any]:
    """Ray task options for a ``StageSpec``: ``cpus`` per stage, its GPUs, its custom resources."""
    options: dict[str, Any] = {"num_cpus": cpus}
    if spec.gpus:
        options["num_gpus"] = spec.gpus
    resources = custom_resources(
        spec.env.get(RESOURCES_ENV), f"stage {spec.name!r}: env {RESOURCES_ENV}"
    )
    if resources:
        options["resources"] = resources
    return options
