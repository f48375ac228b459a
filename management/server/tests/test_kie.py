"""Key-information extraction runs on the dashboard's API: per-field values, and the task's
main metric deciding "best" and the quality-vs-latency figure (issue 28)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from helpers import ServerProcess, make_workdir

FIELDS_TASK = "passport-fields"


def _as_kie(workdir: Path, experiment: str) -> dict[str, float]:
    """The JSON runs of a helper work dir as a KIE report: structural fidelity listed first
    (1.0 for every run, as for the baselines), field_f1 the task's main metric, per-field
    values in metrics.json. Returns field_f1 per model."""
    report = workdir / "reports" / experiment
    runs = json.loads((report / "runs.json").read_text(encoding="utf-8"))
    with (report / "leaderboard.csv").open(encoding="utf-8", newline="") as handle:
        board = list(csv.DictReader(handle))
    f1 = {}
    for run in runs:
        if run["task"] != FIELDS_TASK:
            continue
        run["main_metric"] = "field_f1"
        row = next(r for r in board if r["run"] == run["run"])
        f1[run["model"]] = float(row["field_f1"])
        per_field = {
            "surname": {"field_f1": {"value": f1[run["model"]], "ci": [0.1, 0.9], "n": 12}},
            "number": {"field_f1": {"value": 1.0, "n": 12}},
        }
        metrics = {"metrics": {"field_f1": f1[run["model"]]}, "per_field": per_field}
        eval_dir = workdir / "evals" / run["eval_id"]
        (eval_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (report / "runs.json").write_text(json.dumps(runs), encoding="utf-8")
    columns = list(board[0])
    columns.insert(columns.index("field_f1"), "structural_fidelity")
    for row in board:
        row["structural_fidelity"] = "1.0" if row["field_f1"] else ""
    with (report / "leaderboard.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(board)
    return f1


async def test_per_field_values_and_the_main_metric(
    sqlite_url: str, server_factory: list, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path / "work", sqlite_url).start()
    server_factory.append(server)
    work = tmp_path / "work" / "imports" / "receipts"  # the server imports from its work dir
    make_workdir(work, "receipts", samples=12, seed=3)
    f1 = _as_kie(work, "receipts")
    winner = max(f1, key=f1.__getitem__)
    assert f1[winner] > min(f1.values())  # the helper's models differ
    async with server.client() as client:
        imported = await client.post("/api/import", json={"workdir": str(work)})
        exp_id = imported.json()["imported"][0]["id"]
        listing = (await client.get("/api/experiments")).json()["items"]
        best = next(e for e in listing if e["id"] == exp_id)["best"][FIELDS_TASK]
        assert best["metric"] == "field_f1" and best["model"] == winner
        rows = (await client.get(f"/api/experiments/{exp_id}/leaderboard")).json()["rows"]
        kie = next(r for r in rows if r["task"] == FIELDS_TASK and r["model"] == winner)
        assert kie["main_metric"] == "field_f1"
        assert kie["per_field"]["surname"]["field_f1"] == {
            "value": f1[winner],
            "ci": [0.1, 0.9],
            "n": 12,
        }
        figure = (await client.get(f"/api/experiments/{exp_id}/figures/quality-vs-latency")).json()
        names = [trace["name"] for trace in figure["data"]]
        assert f"{FIELDS_TASK} (field_f1)" in names
        heat = (
            await client.get(f"/api/experiments/{exp_id}/figures/field-scores-{FIELDS_TASK}")
        ).json()["data"][0]
        assert heat["y"] == ["number", "surname"]
