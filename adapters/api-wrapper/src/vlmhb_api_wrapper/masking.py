"""Keeps secrets out of logs and out of HTTP answers.

The wrapper runs next to credentials (the API key, hub tokens, S3 keys). Rather than trusting
every log call site, a filter rewrites each record's final text, and every config the server
returns passes through :func:`mask_mapping`.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
#: Environment variables whose values are secrets: broad, since over-masking costs little.
SECRET_ENV_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|^AWS_", re.IGNORECASE)
#: Config keys whose values are secrets: whole name parts only, so ``max_tokens`` survives.
SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:token|secrets?|key|api_?key|access_?key|password|passwd|credentials?)"
    r"(?:$|[_\-.])|^aws_",
    re.IGNORECASE,
)
#: Values shorter than this are not masked in free text (masking "1" would shred every line);
#: they are still masked as values of secret-named keys (:func:`mask_mapping`). The server
#: warns about an API key this short; see the README's security section.
MIN_SECRET_LENGTH = 4


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def secrets_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables whose names look like secrets."""
    environ = os.environ if environ is None else environ
    return [value for name, value in environ.items() if SECRET_ENV_NAME.search(name) and value]


def scrubbed_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process (tesseract, a converter): secrets left out.

    A child does not need the server's API key or cloud credentials, and an engine that
    crashes may dump its environment into a log; so every variable whose name looks like a
    secret (``VLMHB_API_KEY``, ``AWS_*``, ``*_TOKEN``, ``*SECRET*``, ``*_KEY``, ``*PASSWORD*``,
    ``*CREDENTIAL*``) is dropped.
    """
    environ = os.environ if environ is None else environ
    return {name: value for name, value in environ.items() if not SECRET_ENV_NAME.search(name)}


def mask_mapping(value: Any) -> Any:
    """A deep copy of a config with the values of secret-looking keys replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            key: (
                MASK if is_secret_name(str(key)) and item not in (None, "") else mask_mapping(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_mapping(item) for item in value]
    return value


class SecretMasker:
    """A growing set of secret strings, replaced by ``***`` wherever they appear in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
            ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def mask(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text


class SecretMaskingFilter(logging.Filter):
    """Rewrites a record's message (arguments merged in) and traceback with secrets masked."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_vlmhb_masked", False):
            return True
        # Arguments are masked one by one rather than merged into the message, because some
        # formatters (uvicorn's access log) read record.args themselves.
        if isinstance(record.msg, str):
            record.msg = self.masker.mask(record.msg)
        elif record.msg is not None and self._leaks(record.msg):
            record.msg = self.masker.mask(str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {key: self._arg(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(self._arg(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.masker.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.masker.mask(record.stack_info)
        record._vlmhb_masked = True
        return True

    def _leaks(self, value: Any) -> bool:
        text = str(value)
        return self.masker.mask(text) != text

    def _arg(self, value: Any) -> Any:
        """Strings masked; other objects kept as they are unless their text holds a secret."""
        if isinstance(value, str):
            return self.masker.mask(value)
        if isinstance(value, int | float | bool) or value is None:
            return value
        return self.masker.mask(str(value)) if self._leaks(value) else value


_installed: list[SecretMaskingFilter] = []


def _mask_record(record: logging.LogRecord) -> None:
    for masking_filter in _installed:
        record._vlmhb_masked = False
        masking_filter.filter(record)


def install_secret_masking(masker: SecretMasker) -> SecretMaskingFilter:
    """Mask every record the process creates, whichever logger or handler it goes through.

    A filter on one logger misses records propagated from child loggers, and handlers are
    added later (uvicorn, pytest); so the filter runs inside the log-record factory, and is
    also attached to the root handlers for records made before installation. Each server in
    the process adds its masker; all of them apply.
    """
    masking_filter = SecretMaskingFilter(masker)
    if not _installed:
        previous_factory = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous_factory(*args, **kwargs)
            _mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
    _installed.append(masking_filter)
    del _installed[:-16]  # servers come and go in tests; their maskers need not pile up
    for handler in logging.getLogger().handlers:
        handler.addFilter(masking_filter)
    return masking_filter
