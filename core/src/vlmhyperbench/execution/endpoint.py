"""An OpenAI-compatible endpoint as a model server: nothing started, checked before use.

The check (``GET <base_url>/models`` with the key) runs before any sample is sent and turns
what can go wrong into one line naming the model and the URL: unreachable, the key refused,
the model not served there. The key is read here, at run time, from the environment variable
or file the entry names, and is never written anywhere: error texts that come back from the
endpoint are masked before they reach an answer record, a log or an event.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from ..registry.models import EndpointSpec
from .stages import ServeStage

MASK = "***"


class EndpointError(RuntimeError):
    """The endpoint cannot be used; the message is one line naming model, URL and cause."""


def read_key(model: str, spec: EndpointSpec, base: Path | None = None) -> str | None:
    """The key from ``api_key_env`` or ``api_key_file``; None when neither is named."""
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env, "").strip()
        if not key:
            raise EndpointError(
                f"model {model!r}: the environment variable {spec.api_key_env} "
                "(endpoint.api_key_env) is not set or empty"
            )
        return key
    if spec.api_key_file:
        path = Path(os.path.expanduser(spec.api_key_file))
        path = path if path.is_absolute() or base is None else base / path
        try:
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise EndpointError(
                f"model {model!r}: cannot read endpoint.api_key_file {path}: {exc.strerror or exc}"
            ) from None
        if not key:
            raise EndpointError(f"model {model!r}: endpoint.api_key_file {path} is empty")
        return key
    return None


class EndpointServer:
    """The handle the inference runner talks to, for an endpoint someone else runs."""

    environment_lock = ""
    restartable = False  # not ours to restart: a dead endpoint stops the model's run
    telemetry = False  # no /v1/metrics of ours behind it

    def __init__(self, stage: ServeStage, base: Path | None = None) -> None:
        assert stage.model.endpoint is not None
        self.name = stage.model.name
        self.spec = stage.model.endpoint
        self.api_base = self.spec.base_url
        self.base_url = self.spec.base_url
        self.headers = dict(self.spec.headers)
        self.model_id: str | None = self.spec.model
        self.timeout_s = self.spec.timeout_s
        self._base = base
        self.api_key: str | None = None

    def mask(self, text: str) -> str:
        return text.replace(self.api_key, MASK) if self.api_key else text

    def start(self) -> None:
        """Read the key and check the endpoint serves the model; raises EndpointError."""
        self.api_key = read_key(self.name, self.spec, self._base)
        headers = dict(self.headers)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.api_base}/models"
        where = f"model {self.name!r}: endpoint {self.api_base}"
        try:
            response = httpx.get(url, headers=headers, timeout=min(30.0, self.timeout_s))
        except httpx.HTTPError as exc:
            raise EndpointError(
                f"{where} is unreachable ({type(exc).__name__}: {self.mask(str(exc)) or 'no answer'})"
            ) from None
        if response.status_code in (401, 403):
            source = (
                f"${self.spec.api_key_env}"
                if self.spec.api_key_env
                else self.spec.api_key_file or "no key (set endpoint.api_key_env or api_key_file)"
            )
            raise EndpointError(
                f"{where} refused the API key from {source} (HTTP {response.status_code})"
            )
        if response.status_code >= 400:
            raise EndpointError(
                f"{where}: GET /models answered HTTP {response.status_code}: "
                f"{self.mask(response.text[:200])!r}"
            )
        try:
            data = response.json().get("data")
            served = [str(m["id"]) for m in data]
        except (ValueError, AttributeError, KeyError, TypeError):
            raise EndpointError(
                f"{where}: GET /models is not an OpenAI model list: {self.mask(response.text[:200])!r}"
            ) from None
        if self.spec.model not in served:
            shown = ", ".join(served[:20]) + (" ..." if len(served) > 20 else "")
            raise EndpointError(
                f"{where} does not serve model {self.spec.model!r} (it serves: {shown or 'none'})"
            )

    def stop(self) -> None:
        self.api_key = None

    async def restart(self, reason: str) -> None:
        raise EndpointError(
            f"endpoint {self.api_base} failed ({reason}); it is not ours to restart"
        )
