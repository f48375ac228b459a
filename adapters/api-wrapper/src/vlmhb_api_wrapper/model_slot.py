"""The one model slot of a server: loading, unloading and what is loaded, with a lock.

Loading takes minutes for a real VLM; a second load meanwhile is refused (409) instead of
queued, so a client never waits on a load it did not ask for. Requests hold the model while
they run (:meth:`ModelSlot.serving`): an unload or reload first waits for them (bounded),
so a request never finds its model gone halfway (which used to be a 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from vlmhb_api_wrapper.backend import Backend
from vlmhb_api_wrapper.errors import ApiError
from vlmhb_api_wrapper.masking import SecretMasker, is_secret_name, mask_mapping

log = logging.getLogger(__name__)

State = Literal["empty", "loading", "loaded", "unloading", "failed"]


def _own_version() -> str | None:
    try:
        return version("vlmhb-api-wrapper")
    except PackageNotFoundError:
        return None


def served_model_id(backend_name: str, model: str | None, config: dict[str, Any]) -> str:
    """The name clients send as ``model``: explicit, else the config's ``model``/``name``."""
    for candidate in (model, config.get("model"), config.get("name")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return backend_name


class ModelSlot:
    """The server's single model: its state, the served id, and who may use it right now.

    Named a slot, not a manager: it holds one model at a time and guards access to it; the
    backend does the loading.
    """

    def __init__(
        self,
        backend: Backend,
        masker: SecretMasker,
        *,
        backend_distribution: str | None = None,
        backend_version: str | None = None,
        drain_s: float = 30.0,
    ) -> None:
        self.backend = backend
        self.masker = masker
        self.backend_distribution = backend_distribution
        self.backend_version = backend_version
        self.state: State = "empty"
        self.model_id: str | None = None
        self.config: dict[str, Any] = {}
        self.error: str | None = None
        self.loaded_at: float | None = None
        self.drain_s = drain_s
        self.ignored_secrets: list[str] = []
        self._lock = asyncio.Lock()
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def loaded(self) -> bool:
        return self.state == "loaded"

    def accepts(self, model: str) -> bool:
        """Clients may name the model by its served id or by the backend's name."""
        return self.loaded and model in (self.model_id, self.backend.name)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextlib.asynccontextmanager
    async def serving(self, model: str) -> AsyncIterator[str]:
        """Hold the loaded model for one request; yields the served model id.

        Checked and counted without an ``await`` in between, so an unload that starts later
        sees this request and waits for it.
        """
        if self.state in ("unloading", "loading"):
            # 409 rather than 503: the runner takes 503 for a dead server and restarts it
            raise ApiError(
                409, f"the model is being {self.state.removesuffix('ing')}ed: retry once it is"
            )
        if not self.loaded:
            raise ApiError(409, f"no model loaded (state: {self.state}); POST /v1/models/load")
        if not self.accepts(model):
            raise ApiError(
                409,
                f"unknown model {model!r}: this server has {self.model_id!r} loaded",
                "model",
            )
        model_id = self.model_id or self.backend.name
        self._in_flight += 1
        self._idle.clear()
        try:
            yield model_id
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _drain(self) -> None:
        """Wait (up to ``drain_s``) for requests in flight; 409 when they do not finish."""
        if self._in_flight == 0:
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self.drain_s)
        except asyncio.TimeoutError:
            raise ApiError(
                409,
                f"{self._in_flight} request(s) still in flight after {self.drain_s:g} s: "
                f"the model {self.model_id!r} stays loaded; retry later",
            ) from None

    def _validated(self, config: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
        """Config (+ the secrets it declares) checked against the backend's ``config_model``.

        Checked before the loaded model is touched, so a bad config leaves it serving. A
        backend without a ``config_model`` gets config and secrets merged, as they come.
        """
        config_model: type[BaseModel] | None = getattr(self.backend, "config_model", None)
        if config_model is None:
            self.ignored_secrets = []
            return {**config, **secrets}
        fields = config_model.model_fields
        used = {name: value for name, value in secrets.items() if name in fields}
        self.ignored_secrets = sorted(set(secrets) - set(used))
        if self.ignored_secrets:
            log.info(
                "backend %s takes no secret named %s: ignored",
                self.backend.name,
                ", ".join(self.ignored_secrets),
            )
        merged = {**config, **used}
        try:
            config_model.model_validate(merged)
        except ValidationError as exc:
            problems = "; ".join(
                f"config.{'.'.join(str(p) for p in e['loc']) or ''}: {e['msg']}"
                for e in exc.errors()
            )
            first = exc.errors()[0]["loc"] if exc.errors() else ()
            raise ApiError(
                422,
                f"invalid model config for backend {self.backend.name!r}: {problems}",
                ".".join(["config", *(str(p) for p in first)]),
            ) from exc
        return merged

    async def load(
        self,
        config: dict[str, Any],
        *,
        model: str | None = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        if self._lock.locked():
            raise ApiError(409, f"a model is being {self.state}: wait until it finishes")
        async with self._lock:
            secrets = secrets or {}
            self.masker.add(*secrets.values())
            self.masker.add(
                *(str(v) for k, v in config.items() if is_secret_name(k) and isinstance(v, str))
            )
            merged = self._validated(config, secrets)
            previous = self.model_id if self.loaded else None
            if self.loaded:
                self.state = "unloading"
                try:
                    await self._drain()
                except ApiError:
                    self.state = "loaded"
                    raise
                try:
                    await self.backend.unload()
                except Exception as exc:  # the slot is freed either way; say what happened
                    log.error("unloading %s failed: %s", previous, self.masker.mask(str(exc)))
            self.state, self.error, self.model_id = "loading", None, None
            self.config = mask_mapping(config)
            started = time.perf_counter()
            try:
                await self.backend.load(merged)
            except Exception as exc:
                reason = self.masker.mask(str(exc) or type(exc).__name__)
                now = (
                    f"no model is loaded now (the previous model {previous!r} was unloaded "
                    "first, to free its memory)"
                    if previous is not None
                    else "no model is loaded"
                )
                self.state, self.error = "failed", f"{reason}; {now}"
                log.error("loading %s failed: %s", self.backend.name, self.error)
                status = 422 if isinstance(exc, ValueError) else 500
                raise ApiError(status, f"could not load the model: {self.error}") from exc
            self.model_id = served_model_id(self.backend.name, model, config)
            self.state, self.loaded_at = "loaded", time.time()
            log.info(
                "loaded %s on backend %s in %.2f s",
                self.model_id,
                self.backend.name,
                time.perf_counter() - started,
            )

    async def unload(self) -> None:
        if self._lock.locked():
            raise ApiError(409, f"a model is being {self.state}: wait until it finishes")
        async with self._lock:
            if self.state == "loaded":
                self.state = "unloading"
                try:
                    await self._drain()
                except ApiError:
                    self.state = "loaded"
                    raise
                try:
                    await self.backend.unload()
                finally:
                    self.state, self.model_id, self.config = "empty", None, {}
            else:
                self.state, self.model_id, self.config, self.error = "empty", None, {}, None

    def describe(self) -> dict[str, Any]:
        """GET /v1/models: OpenAI's list shape, plus state, masked config and versions."""
        try:
            backend_info = mask_mapping(self.backend.info()) if self.loaded else {}
        except Exception as exc:
            backend_info = {"error": f"info() failed: {exc}"}
        data = []
        if self.loaded and self.model_id is not None:
            data.append(
                {
                    "id": self.model_id,
                    "object": "model",
                    "created": int(self.loaded_at or 0),
                    "owned_by": "vlmhyperbench",
                }
            )
        return {
            "object": "list",
            "data": data,
            "state": self.state,
            "error": self.error,
            "model": self.model_id,
            "in_flight": self._in_flight,
            "ignored_secrets": self.ignored_secrets,
            "config": self.config,
            "backend": {
                "name": self.backend.name,
                "supports_batching": bool(getattr(self.backend, "supports_batching", False)),
                "distribution": self.backend_distribution,
                "version": self.backend_version,
                "info": backend_info,
            },
            "versions": {"vlmhb-api-wrapper": _own_version()},
        }
