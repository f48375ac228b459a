"""Upload stage: the experiment's run bundle to S3 (or any storage vlmhb-data-layer knows).

Runs in an environment holding vlmhb-data-layer:
``python -m vlmhb_stages.upload_bundle CONFIG.json``.
Each folder (the report, each run's answers and config, each evaluation's scores, with their
environment locks) is uploaded under ``<storage uri>/<experiment>/<name>/`` with a manifest;
unchanged files are skipped on re-upload. A failure lists what is missing remotely and
leaves every local file as it was.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vlmhb_stages.configs import UploadConfig, emit


def main(config_path: str) -> int:
    from vlmhb_data_layer import upload_run

    config = UploadConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    base = config.uri.rstrip("/") + "/" + config.experiment
    missing: list[str] = []
    for i, (name, folder) in enumerate(config.folders):
        result = upload_run(Path(folder), base, name, endpoint_url=config.endpoint_url)
        missing += [f"{name}/{path}" for path in getattr(result, "missing", [])]
        emit("stage_progress", done=i + 1, total=len(config.folders))
        print(f"{name}: {result}", flush=True)
    if missing:
        print(f"not uploaded ({len(missing)}): {', '.join(missing[:20])}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
