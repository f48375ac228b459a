"""``vlmhb-env``: build, list and prune environments from a file of sources, without the core.

The core's ``vlmhb env`` does the same from registry names; this one is for using the
injector alone (and for debugging an environment by hand).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from .errors import DependencyError
from .manager import EnvironmentManager
from .sources import DependencySource

_SOURCES = TypeAdapter(list[DependencySource])


def _load_sources(path: Path) -> list:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: cannot read sources: {exc}") from exc
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    try:
        return _SOURCES.validate_python(data)
    except ValidationError as exc:
        raise SystemExit(f"{path}: expected a list of sources:\n{exc}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vlmhb-env", description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="environment cache folder")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or find) the environment; print its path")
    build.add_argument("sources", type=Path, help="YAML/JSON file: a list of sources")
    build.add_argument("--mode", choices=["dev", "prod"], default="dev")
    build.add_argument("--python", default=None, help="interpreter request, e.g. 3.12")
    commands.add_parser("list", help="list cached environments")
    prune = commands.add_parser("prune", help="delete cached environments")
    prune.add_argument("--keep", action="append", default=[], help="key to keep (repeatable)")
    prune.add_argument("--older-than-days", type=float, default=None)
    args = parser.parse_args(argv)

    if args.command == "build":
        manager = EnvironmentManager(
            args.cache, python=args.python, base_dir=args.sources.resolve().parent
        )
        try:
            env = manager.ensure(_load_sources(args.sources), mode=args.mode)
        except DependencyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(env.path)
        return 0
    manager = EnvironmentManager(args.cache)
    if args.command == "list":
        for info in manager.list():
            state = "ready" if info.ready else "half-built"
            # venv, or container:<image>: which builder made it and for which image.
            where = f"container:{info.image}" if info.builder == "container" else info.builder
            print(
                f"{info.key}  {state:10}  {info.mode or '-':4}  {where or '-':24}  "
                f"{','.join(info.packages)}"
            )
        return 0
    older = timedelta(days=args.older_than_days) if args.older_than_days is not None else None
    for key in manager.prune(keep_keys=args.keep, older_than=older):
        print(f"removed {key}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
