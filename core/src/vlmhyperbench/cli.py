"""The ``vlmhb`` command line.

Bad input exits with status 2 and one line per problem; tracebacks are for bugs only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .cli_options import (
    LimitOption,
    ModeOption,
    OverlayOption,
    RegistriesOption,
    WorkdirOption,
    err,
    out,
)
from .cli_registry import fail, load_registry
from .cli_run import run_experiment
from .registry import write_json_schemas

app = typer.Typer(
    rich_markup_mode=None,
    name="vlmhb",
    help="VLMHyperBench: benchmark vision-language models from YAML registries.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
metrics_app = typer.Typer(
    rich_markup_mode=None,
    help="Metrics known to the registries and installed packages.",
    no_args_is_help=True,
)
app.add_typer(metrics_app, name="metrics")


@app.command()
def validate(
    registries: RegistriesOption = Path("registries"),
    mode: ModeOption = None,
    overlay: OverlayOption = None,
) -> None:
    """Validate every registry file and every reference between them."""
    registry = load_registry(registries, mode, overlay)
    for kind, count in registry.summary().items():
        out.print(f"{kind:<12} {count:>3} entries OK")
    out.print(f"registries {registries} valid in {registry.mode} mode")


@app.command()
def schema(
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("schemas"),
) -> None:
    """Write the JSON Schema of each registry kind (for editors)."""
    for path in write_json_schemas(out_dir):
        out.print(str(path))


@metrics_app.command("list")
def metrics_list(
    registries: RegistriesOption = Path("registries"),
    mode: ModeOption = None,
) -> None:
    """Metrics in the registries, and metric entry points installed in this environment."""
    from importlib.metadata import entry_points

    registry = load_registry(registries, mode)
    out.print("registry entries:")
    for name in registry.names("metrics"):
        metric = registry.get("metrics", name)
        target = metric.entry_point or metric.callable
        out.print(
            f"  {metric.key:<28} {metric.package:<32} {target}  [{', '.join(metric.applies_to)}]"
        )
    installed = sorted(entry_points(group="vlmhyperbench.metrics"), key=lambda ep: ep.name)
    out.print(f"installed entry points ({len(installed)}):")
    for ep in installed:
        out.print(f"  {ep.name:<28} {ep.value}")


@app.command()
def run(
    experiment: Annotated[
        str | None, typer.Argument(help="Experiment entry name, or a path to an experiment YAML.")
    ] = None,
    user_config: Annotated[
        Path | None,
        typer.Option("--user-config", help="A v0.1 user_config.csv: one run per row."),
    ] = None,
    workdir: WorkdirOption = Path(".work"),
    executor: Annotated[
        str, typer.Option(help="Executor plugin: local (uv venvs), docker, ray.")
    ] = "",
    limit: LimitOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and print the plan; run nothing.")
    ] = False,
    accept_data_change: Annotated[
        bool,
        typer.Option(
            "--accept-data-change", help="Run even if a dataset differs from its pinned checksum."
        ),
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Ray cluster (executor ray).")
    ] = None,
    ray_storage: Annotated[
        str | None,
        typer.Option(
            "--ray-storage",
            help="s3://BUCKET/PREFIX: stage folders travel through this bucket, for Ray nodes "
            "that share no filesystem (executor ray; also $VLMHB_RAY_STORAGE).",
        ),
    ] = None,
    ray_storage_endpoint: Annotated[
        str | None,
        typer.Option(
            "--ray-storage-endpoint",
            help="The S3-compatible server of --ray-storage (else each node's AWS_ENDPOINT_URL).",
        ),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0,
            help="USD this run may spend on models with a price; it stops cleanly (partial, "
            "resumable) before a request whose worst case would pass it.",
        ),
    ] = None,
    registries: RegistriesOption = Path("registries"),
    mode: ModeOption = None,
    overlay: OverlayOption = None,
) -> None:
    """Run an experiment (or a user_config.csv) and print its leaderboard."""
    if (experiment is None) == (user_config is None):
        fail("expected an EXPERIMENT name or path, or --user-config FILE (one of them)")
    files = []
    if experiment is not None and experiment.endswith((".yaml", ".yml")):
        path = Path(experiment)
        if not path.is_file():
            fail(f"{path}: no such experiment file")
        files.append(path)
    registry = load_registry(registries, mode, overlay, files)
    given = {
        "ray_address": ray_address,
        "ray_storage": ray_storage,
        "ray_storage_endpoint": ray_storage_endpoint,
    }
    options = {name: value for name, value in given.items() if value}
    code = run_experiment(
        registry,
        experiment,
        user_config,
        workdir,
        executor or None,
        out,
        err,
        limit=limit,
        dry_run=dry_run,
        accept_data_change=accept_data_change,
        executor_options=options,
        max_cost_usd=max_cost,
    )
    raise typer.Exit(code)


@app.command()
def bench(
    workdir: WorkdirOption = Path(".work"),
    registries: RegistriesOption = Path("registries"),
    mode: ModeOption = None,
    experiment: Annotated[str, typer.Option(help="Experiment to run.")] = "default",
    limit: LimitOption = None,
) -> None:
    """The main job: run the default experiment on the embedded data and models."""
    registry = load_registry(registries, mode)
    raise typer.Exit(
        run_experiment(registry, experiment, None, workdir, None, out, err, limit=limit)
    )


@app.command()
def status(
    workdir: WorkdirOption = Path(".work"),
    experiment: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Every stage's state (from the tracker in the work dir) and the live model servers."""
    from rich.table import Table

    from .execution.serve import record_is_live, server_records
    from .execution.tracker import TaskTracker
    from .workdir import Workdir

    layout = Workdir(workdir)
    if not layout.tracker_db.exists():
        fail(f"{layout.tracker_db}: no tracker here; expected a work dir used by 'vlmhb run'")
    tracker = TaskTracker(layout.tracker_db)
    table = Table("experiment", "stage", "kind", "state", "took", "id")
    for row in tracker.rows(experiment):
        took = f"{row.duration_s:.1f} s" if row.duration_s is not None else ""
        table.add_row(row.experiment, row.name, row.kind, row.state, took, row.stage_id)
    out.print(table)
    servers = [(p, r) for p, r in server_records(layout) if record_is_live(r)]
    if not servers:
        out.print("model servers: none running")
        return
    live = Table("model", "executor", "pid / container", "port", "run pid", title="model servers")
    for _, record in servers:
        what = record.get("container") or record.get("pid") or record.get("actor")
        live.add_row(
            str(record.get("model")),
            str(record.get("executor")),
            str(what),
            str(record.get("port")),
            str(record.get("owner_pid")),
        )
    out.print(live)


@app.command()
def stop(workdir: WorkdirOption = Path(".work")) -> None:
    """Stop the run using this work dir (it stops its servers) and any server left behind."""
    import signal
    import time

    from vlmhb_executor_api.services import pid_alive

    from .cli_run import RUN_RECORD
    from .execution.serve import stop_orphans
    from .workdir import Workdir, read_json

    layout = Workdir(workdir)
    record_path = layout.root / RUN_RECORD
    if record_path.exists():
        pid = int(read_json(record_path).get("pid") or 0)
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            out.print(f"stopped run (pid {pid})")
    stopped = stop_orphans(layout, None, say=out.print)
    if not stopped:
        out.print("no model server left running")


env_app = typer.Typer(
    rich_markup_mode=None,
    help="Environments built by the dependency injector.",
    no_args_is_help=True,
)
app.add_typer(env_app, name="env")

EnvCacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir", help="Environment cache (default $VLMHB_ENV_CACHE or ~/.cache/vlmhb/envs)."
    ),
]


@env_app.command("build")
def env_build(
    names: Annotated[list[str], typer.Argument(help="Package entry names.")],
    registries: RegistriesOption = Path("registries"),
    mode: ModeOption = None,
    cache_dir: EnvCacheOption = None,
) -> None:
    """Build (or find) the environment holding these registry packages; print its path."""
    from vlmhb_dependency_injector import DependencyError, EnvironmentManager

    from .execution.identity import PackageResolver

    registry = load_registry(registries, mode)
    manager = EnvironmentManager(cache_dir, base_dir=registry.repo_root)
    try:
        sources = PackageResolver(registry, manager, registry.mode).sources(names)
    except KeyError as exc:
        fail(str(exc.args[0]))
    try:
        environment = manager.ensure(sources, mode=registry.mode)
    except DependencyError as exc:
        fail(str(exc))
    out.print(str(environment.path))


def _injector_cli(cache_dir: Path | None, *args: str) -> None:
    """``vlmhb env list|prune`` are the injector's own commands (one implementation)."""
    from vlmhb_dependency_injector.cli import main as injector_main

    prefix = ["--cache", str(cache_dir)] if cache_dir else []
    raise typer.Exit(injector_main([*prefix, *args]))


@env_app.command("list")
def env_list(cache_dir: EnvCacheOption = None) -> None:
    """Environments in the cache (venvs and container builds), with state and packages."""
    _injector_cli(cache_dir, "list")


@env_app.command("prune")
def env_prune(
    cache_dir: EnvCacheOption = None,
    older_than_days: Annotated[
        float | None, typer.Option(help="Keep ready ones used within this many days.")
    ] = None,
    keep: Annotated[list[str] | None, typer.Option(help="Environment key to keep.")] = None,
) -> None:
    """Remove environments: half-built ones always; ready ones unless kept or recently used."""
    args = ["prune", *[a for key in keep or [] for a in ("--keep", key)]]
    if older_than_days is not None:
        args += ["--older-than-days", str(older_than_days)]
    _injector_cli(cache_dir, *args)


def _add_commands() -> None:
    """The analysis commands, then the command groups other packages add through the
    entry-point group ``vlmhyperbench.commands`` (``vlmhb import`` comes with vlmhb-v01,
    ``vlmhb compare`` with vlmhb-reports): a typer app is added as a group, a function as a
    command."""
    from importlib.metadata import entry_points

    from .cli_analysis import register

    register(app)
    for plugin in sorted(entry_points(group="vlmhyperbench.commands"), key=lambda e: e.name):
        try:
            command = plugin.load()
        except ImportError as exc:  # installed without its `cli` extra: say so, run the rest
            err.print(f"command {plugin.name!r} unavailable ({plugin.value}): {exc}")
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=plugin.name)
        else:
            app.command(plugin.name)(command)


_add_commands()


def main() -> None:
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
