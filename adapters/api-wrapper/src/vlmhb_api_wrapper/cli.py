"""``vlmhb-serve``: start the wrapper with one backend, in that backend's environment."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from pydantic import ValidationError

from vlmhb_api_wrapper.app import create_app
from vlmhb_api_wrapper.registry import BackendNotFound, find_backend
from vlmhb_api_wrapper.settings import DEFAULT_MAX_IMAGE_PIXELS, ServerSettings
from vlmhb_api_wrapper.watchdog import ParentWatch

API_KEY_ENV = "VLMHB_API_KEY"
PARENT_PID_ENV = "VLMHB_PARENT_PID"
MAX_IMAGE_PIXELS_ENV = "VLMHB_MAX_IMAGE_PIXELS"
#: A key file larger than this is not a key (and is not read into memory).
MAX_KEY_FILE_BYTES = 4096


class ConfigFileError(ValueError):
    pass


def read_model_config(path: Path) -> dict[str, Any]:
    """A model config from YAML or JSON (JSON is YAML), which must be a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read the model config ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"{path}: not valid YAML/JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path}: a model config must be a mapping of settings, got {type(data).__name__}"
        )
    return data


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlmhb-serve", description=__doc__)
    p.add_argument("--backend", required=True, help="entry point in vlmhyperbench.backends")
    p.add_argument("--model-config", type=Path, help="YAML/JSON; default: the backend's own")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--api-key",
        help=f"required by every endpoint but /health; visible in `ps`, so prefer "
        f"--api-key-file or ${API_KEY_ENV}",
    )
    p.add_argument(
        "--api-key-file",
        type=Path,
        help="file holding the API key (surrounding whitespace and newline stripped)",
    )
    p.add_argument("--data-root", type=Path, help="folder file:// image URLs may read from")
    p.add_argument("--max-request-mb", type=float, default=64.0)
    p.add_argument("--max-image-mb", type=float, default=32.0)
    p.add_argument(
        "--max-image-pixels",
        type=int,
        help=f"width x height x frames of one image, checked from its header before decoding "
        f"(default {DEFAULT_MAX_IMAGE_PIXELS}, or ${MAX_IMAGE_PIXELS_ENV})",
    )
    p.add_argument(
        "--parent-pid",
        type=int,
        help=f"shut down when this process is gone (or ${PARENT_PID_ENV}); the runner passes "
        "its own pid so a killed run leaves no server behind",
    )
    p.add_argument(
        "--unload-drain-s",
        type=float,
        default=30.0,
        help="how long an unload waits for requests in flight before refusing with 409",
    )
    p.add_argument("--generate-deadline-s", type=float, default=300.0)
    p.add_argument("--memory-limit-mb", type=float, help="process RSS that marks not ready")
    p.add_argument("--batch-window-ms", type=float, default=5.0)
    p.add_argument("--max-batch-size", type=int, default=64)
    p.add_argument("--log-level", default="info")
    return p


class SettingsError(ValueError):
    """A command-line setting that cannot be used; the message names the flag."""


def _api_key(args: argparse.Namespace) -> str | None:
    """--api-key, else --api-key-file, else $VLMHB_API_KEY; an empty value means no key."""
    if args.api_key is not None and args.api_key_file is not None:
        raise SettingsError("give --api-key or --api-key-file, not both")
    if args.api_key_file is not None:
        path: Path = args.api_key_file
        try:
            if not path.is_file():
                raise SettingsError(f"--api-key-file {path}: not a regular file")
            if path.stat().st_size > MAX_KEY_FILE_BYTES:
                raise SettingsError(
                    f"--api-key-file {path}: {path.stat().st_size} bytes, too large for a key "
                    f"(at most {MAX_KEY_FILE_BYTES})"
                )
            key = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"--api-key-file {path}: cannot read it ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise SettingsError(f"--api-key-file {path}: not UTF-8 text ({exc})") from exc
        if not key:
            raise SettingsError(f"--api-key-file {path}: the file is empty")
        return key
    if args.api_key is not None:
        if args.api_key and not args.api_key.strip():
            raise SettingsError(
                "--api-key is blank: no client could send it; give a real key, or leave "
                "the flag out to run without auth"
            )
        return args.api_key or None
    return os.environ.get(API_KEY_ENV) or None


def _int_env(name: str, flag: str) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"${name}: expected an integer (as for {flag}), got {raw!r}") from None


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """Flags (with their environment fallbacks) as ServerSettings; SettingsError names the flag."""
    mb = 1024 * 1024
    pixels = args.max_image_pixels
    if pixels is None:
        pixels = _int_env(MAX_IMAGE_PIXELS_ENV, "--max-image-pixels")
    parent = (
        args.parent_pid if args.parent_pid is not None else _int_env(PARENT_PID_ENV, "--parent-pid")
    )
    try:
        return ServerSettings(
            api_key=_api_key(args),
            data_root=args.data_root,
            max_request_bytes=int(args.max_request_mb * mb),
            max_image_bytes=int(args.max_image_mb * mb),
            max_image_pixels=pixels if pixels is not None else DEFAULT_MAX_IMAGE_PIXELS,
            generate_deadline_s=args.generate_deadline_s,
            memory_limit_bytes=int(args.memory_limit_mb * mb) if args.memory_limit_mb else None,
            batch_window_s=args.batch_window_ms / 1000,
            max_batch_size=args.max_batch_size,
            unload_drain_s=args.unload_drain_s,
            parent_pid=parent,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise SettingsError(problems) from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_args(args)
        if settings.parent_pid is not None:
            ParentWatch(settings.parent_pid)  # fails now, with the pid, when it is not running
        spec = find_backend(args.backend)
        config = read_model_config(args.model_config) if args.model_config else None
    except (BackendNotFound, ConfigFileError, SettingsError, ValueError) as exc:
        print(f"vlmhb-serve: {exc}", file=sys.stderr)
        return 2
    app = create_app(
        spec.cls(),
        settings,
        initial_config=config,
        backend_distribution=spec.distribution,
        backend_version=spec.distribution_version,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    )

    def stop() -> None:
        server.should_exit = True  # uvicorn's own graceful shutdown: lifespan end, unload

    app.state.server.request_shutdown = stop
    server.run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
