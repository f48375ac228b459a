"""The services one server holds (model slot, dispatcher, monitors, masker, key).

Built once per app by ``create_app`` and kept as ``app.state.server``; route handlers reach
it through the dependencies in :mod:`vlmhb_api_wrapper.dependencies`, the ASGI key guard and
the lifespan get it directly. One object rather than module globals, so two apps (two tests,
a benchmark beside a test) never share a model or a counter.
"""

from __future__ import annotations

import hmac
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

from vlmhb_api_wrapper.backend import Backend
from vlmhb_api_wrapper.dispatcher import Dispatcher
from vlmhb_api_wrapper.masking import SecretMasker, secrets_from_env
from vlmhb_api_wrapper.model_slot import ModelSlot
from vlmhb_api_wrapper.monitor import RequestStats, ResourceMonitor
from vlmhb_api_wrapper.settings import MIN_RECOMMENDED_KEY_LENGTH, ServerSettings
from vlmhb_api_wrapper.watchdog import Watchdog

log = logging.getLogger("vlmhb_api_wrapper")


class ServerState:
    """Everything one server holds, reachable from handlers as ``app.state.server``."""

    def __init__(
        self,
        backend: Backend,
        settings: ServerSettings,
        *,
        startup_config: dict[str, Any],
        backend_distribution: str | None = None,
        backend_version: str | None = None,
    ) -> None:
        self.settings = settings
        #: Loaded when the app starts (the lifespan); a failure shows at ``/ready``.
        self.startup_config = startup_config
        self.masker = SecretMasker(secrets_from_env())
        if settings.api_key is None:
            log.warning(
                "no API key given (--api-key, --api-key-file or VLMHB_API_KEY): "
                "every endpoint is open"
            )
        else:
            key = settings.api_key.get_secret_value()
            self.masker.add(key)
            if len(key) < MIN_RECOMMENDED_KEY_LENGTH:
                log.warning(
                    "the API key has %d characters: use %d or more (keys under 4 characters "
                    "are not masked in logs)",
                    len(key),
                    MIN_RECOMMENDED_KEY_LENGTH,
                )
        self._key = (
            settings.api_key.get_secret_value().encode() if settings.api_key is not None else None
        )
        self.model_slot = ModelSlot(
            backend,
            self.masker,
            backend_distribution=backend_distribution,
            backend_version=backend_version,
            drain_s=settings.unload_drain_s,
        )
        #: Called when the parent process is gone; whoever runs uvicorn may replace it with a
        #: gentler stop (``ServerThread`` and ``vlmhb-serve`` set ``should_exit``).
        self.request_shutdown: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM)
        self.stats = RequestStats()
        self.monitor = ResourceMonitor(settings.sample_interval_s)
        self.watchdog = Watchdog(
            deadline_s=settings.generate_deadline_s,
            interval_s=settings.watchdog_interval_s,
            memory_limit_bytes=settings.memory_limit_bytes,
            gpu_memory_limit_fraction=settings.gpu_memory_limit_fraction,
            resources=lambda: self.monitor.last,
        )
        self.dispatcher = Dispatcher(
            backend,
            self.watchdog,
            window_s=settings.batch_window_s,
            max_batch_size=settings.max_batch_size,
        )

    def key_ok(self, headers: list[tuple[bytes, bytes]]) -> bool:
        """The ASGI headers carry the key (X-API-Key, or Authorization: Bearer)."""
        if self._key is None:
            return True
        given: bytes | None = None
        bearer = b""
        for name, value in headers:
            if name == b"x-api-key":
                given = value
            elif name == b"authorization":
                bearer = value
        if given is None:
            scheme, _, token = bearer.partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else b""
        return hmac.compare_digest(given, self._key)

    def readiness(self) -> tuple[bool, str | None]:
        """Ready with no reason, or not ready and why (a failed load, nothing loaded, watchdog)."""
        slot = self.model_slot
        if slot.state == "failed":
            return False, f"the last load failed: {slot.error}"
        if not slot.loaded:
            return False, f"no model loaded (state: {slot.state})"
        if self.watchdog.reason is not None:
            return False, self.watchdog.reason
        return True, None
