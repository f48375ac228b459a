# Run (root: the Ray node gets a mount namespace of its own):
#   uv run --no-project --with ./dependency-injector --with ./statistics --with ./core \
#     --with ./executors/ray-executor --with 'moto[server]' \
#     env RUN_MODE=dev python bench/bench_ray_storage.py [--experiment default] [--limit 2]
"""The Ray executor without a shared filesystem: per-stage overhead over the local executor,
and the bytes each stage moves through the object storage against its own input and output.

1. a warm-up run with the local executor (environments built, data generated);
2. a Ray node started in a mount namespace of its own, where the work dir's path is a private
   tmpfs: its workers see none of the driver's files, as on another machine; an S3 server
   (moto) on 127.0.0.1;
3. the experiment into a fresh work dir with the local executor, then with the Ray executor
   and ``ray_storage``; each stage's wall time from the run's events;
4. for every stage through the executor: bytes fetched (worker pull + driver pull) and sent
   (driver push + worker push) against the stage's own input size (the folders it reads) plus
   output size (what it wrote). Goals (issue 32): overhead <= 1 s a stage; fetched <= 1.1x
   (nothing fetched twice).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _result import emit, figure  # noqa: E402
from bench_ray_executor import print_stage_table, run_once  # noqa: E402

GOAL_PER_STAGE_S = 1.0
GOAL_BYTES_RATIO = 1.1


def folder_bytes(folder: Path) -> int:
    """Data bytes in a folder (the data layer's own ``.vlmhb-*`` state left out)."""
    if not folder.is_dir():
        return 0
    return sum(
        p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".vlmhb-") for part in p.parts)
    )


def measure_stages(records: list[dict[str, Any]]) -> None:
    """Wrap ``RayExecutor.run``: each stage's input and output bytes beside what it moved."""
    from vlmhb_ray_executor import RayExecutor
    from vlmhb_ray_executor.transfer import stage_inputs, stage_outputs

    original = RayExecutor.run

    def run(self: Any, spec: Any, on_output: Any = None) -> Any:
        size_in = sum(folder_bytes(folder) for folder, _ in stage_inputs(spec))
        before = len(self.transfers)
        outcome = original(self, spec, on_output)
        size_out = sum(folder_bytes(folder) for folder, _ in stage_outputs(spec))
        for moved in self.transfers[before:]:
            records.append({"stage": spec.name, "in": size_in, "out": size_out, **moved.as_dict()})
        return outcome

    RayExecutor.run = run  # type: ignore[method-assign]


def start_private_node(root: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Ray head whose processes see a private, empty tmpfs at ``workdir``'s path."""
    ray_bin = Path(sys.executable).parent / "ray"
    workdir.mkdir(parents=True)
    log = root / "node.log"
    script = (
        f"mount -t tmpfs tmpfs {workdir} && exec {ray_bin} start --head --block "
        f"--port=6391 --node-ip-address=127.0.0.2 --num-cpus=2 --include-dashboard=false "
        f"--disable-usage-stats --temp-dir={root / 'ray'}"
    )
    node = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while "block forever" not in (log.read_text(errors="replace") if log.exists() else ""):
        if node.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the Ray node did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    return node, "127.0.0.2:6391"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="default")
    parser.add_argument("--limit", type=int, default=2)
    args = parser.parse_args()

    import boto3
    import ray
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    root = Path(tempfile.mkdtemp(prefix="vb-rs-", dir="/tmp"))
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    s3.start()
    host, port = s3.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    node = None
    try:
        started = time.perf_counter()
        run_once(args.experiment, args.limit, "local", root / "warmup")
        print(f"warm-up (local, environments and data): {time.perf_counter() - started:7.1f} s")
        local_times = run_once(args.experiment, args.limit, "local", root / "local")

        workdir = root / "ray-work"
        node, address = start_private_node(root, workdir)
        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        records: list[dict[str, Any]] = []
        measure_stages(records)
        options = {"ray_storage": "s3://bench/run", "ray_storage_endpoint": endpoint}
        ray_times = run_once(args.experiment, args.limit, "ray", workdir, options)

        per_kind: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for label, times in (("local", local_times), ("ray", ray_times)):
            for kind, _name, elapsed in times.values():
                per_kind[kind][label].append(elapsed)
        print(f"\n{args.experiment} --limit {args.limit}, ray with object storage")
        diffs = print_stage_table(per_kind, rounds=1)

        print(f"\n{'stage':<22}{'in+out B':>11}{'fetched B':>11}{'sent B':>11}{'fetched/io':>11}")
        worst_ratio = 0.0
        for record in records:
            own = record["in"] + record["out"]
            fetched = record["worker_pull"]["bytes"] + record["driver_pull"]["bytes"]
            sent = record["driver_push"]["bytes"] + record["worker_push"]["bytes"]
            ratio = fetched / own if own else 0.0
            worst_ratio = max(worst_ratio, ratio)
            print(f"{record['stage'][:21]:<22}{own:>11}{fetched:>11}{sent:>11}{ratio:>10.2f}x")
        worst = max(diffs) if diffs else float("nan")
        print(
            f"\nworst per-stage overhead (sync/serve/eval): {worst:+.2f} s (goal <= "
            f"{GOAL_PER_STAGE_S:g} s: {'met' if worst <= GOAL_PER_STAGE_S else 'NOT met'})"
        )
        print(
            f"worst bytes fetched / the stage's own input+output: {worst_ratio:.2f}x (goal <= "
            f"{GOAL_BYTES_RATIO:g}x: {'met' if worst_ratio <= GOAL_BYTES_RATIO else 'NOT met'})"
        )
        emit(
            "ray_storage",
            [
                figure(
                    "ray+storage overhead per stage (worst kind)",
                    round(worst, 2),
                    "s",
                    f"<= {GOAL_PER_STAGE_S:g} s",
                    worst <= GOAL_PER_STAGE_S,
                ),
                figure(
                    "bytes fetched per stage / its input+output (worst)",
                    round(worst_ratio, 2),
                    "x",
                    f"<= {GOAL_BYTES_RATIO:g}x",
                    worst_ratio <= GOAL_BYTES_RATIO,
                ),
            ],
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()
        if node is not None:
            node.terminate()
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, 9)
        s3.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
