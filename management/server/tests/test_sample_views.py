"""The samples explorer's server side (issue 31): range and sample filters on the indexed
samples query, the filter choices (facets), and one sample's answers in every run with a
per-field table for KIE answers. Queries on SQLite and PostgreSQL; the routes on a real
server process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ServerProcess, experiment_with_samples, make_workdir
from vlmhb_server import search
from vlmhb_server.db import Database
from vlmhb_server.sample_views import Facets, field_table
from vlmhb_server.samples import BadQuery, Query, Ranges, SamplesService


def _samples(count: int) -> list[dict[str, Any]]:
    return [
        {
            "run": f"model{i % 3}__receipts__p",
            "sample_id": f"r{i // 3:03d}",
            "question": "Extract the fields",
            "reference": json.dumps({"company": f"SHOP {i // 3}", "total": f"{i // 3}.50"}),
            "answer": json.dumps({"company": f"SHOP {i // 3}", "total": "0"}),
            "scores": {"field_f1": (i * 37 % 101) / 100, **({"anls": 0.5} if i % 2 else {})},
            "latency_s": None if i % 7 == 0 else (i * 13 % 17) / 10,
            "image_path": None,
            "doc_class": ("receipt", "invoice", None)[i % 3],
            "question_type": "kie",
            "metadata": {},
        }
        for i in range(count)
    ]


def _query(**params: str) -> Query:
    return Query.from_params(params, params.get("run"), params.get("q"), "id", "asc")


async def _ids(service: SamplesService, exp_id: int, query: Query) -> list[tuple[str, str]]:
    total, rows = await service.page(exp_id, query, 1000, 0)
    assert total == len(rows)
    return [(row[1], row[2]) for row in rows]


async def test_range_and_sample_filters_run_in_the_query(database: Database) -> None:
    samples = _samples(90)
    exp_id = await experiment_with_samples(database, samples)
    await experiment_with_samples(database, _samples(9))  # another experiment never leaks in
    service = SamplesService(database.engine)
    service.backend = await search.detect(database.engine)

    def expect(keep: Any) -> list[tuple[str, str]]:
        return [(s["run"], s["sample_id"]) for s in samples if keep(s)]

    def score(s: dict[str, Any], metric: str) -> float | None:
        return s["scores"].get(metric)

    cases = [
        (
            {"metric": "field_f1", "score_min": "0.25", "score_max": "0.5"},
            lambda s: 0.25 <= score(s, "field_f1") <= 0.5,
        ),
        # a sample without that score is outside any range on it
        ({"metric": "anls", "score_min": "0"}, lambda s: score(s, "anls") is not None),
        (
            {"latency_min": "0.5", "latency_max": "1.2"},
            lambda s: s["latency_s"] is not None and 0.5 <= s["latency_s"] <= 1.2,
        ),
        ({"latency_max": "1e9"}, lambda s: s["latency_s"] is not None),
        ({"sample_id": "r007"}, lambda s: s["sample_id"] == "r007"),
        (
            {"sample_id": "r010", "run": "model1__receipts__p"},
            lambda s: s["sample_id"] == "r010" and s["run"] == "model1__receipts__p",
        ),
        (
            {"metric": "field_f1", "score_max": "0.3", "doc_class": "receipt", "q": "shop 2"},
            lambda s: (
                score(s, "field_f1") <= 0.3
                and s["doc_class"] == "receipt"
                and "shop 2" in s["reference"].lower()
            ),
        ),
    ]
    for params, keep in cases:
        assert await _ids(service, exp_id, _query(**params)) == expect(keep), params
    assert [r[0] for r in await _ids(service, exp_id, _query(sample_id="r004"))] == [
        "model0__receipts__p",
        "model1__receipts__p",
        "model2__receipts__p",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"score_min": "0.5"}, "score_min/score_max: name the metric"),
        ({"metric": "anls", "score_max": "high"}, "score_max: expected a number, got 'high'"),
        ({"latency_min": "nan"}, "latency_min: expected a finite number"),
        ({"latency_max": "inf"}, "latency_max: expected a finite number"),
    ],
)
def test_bad_range_bounds_are_named(params: dict[str, str], message: str) -> None:
    with pytest.raises(BadQuery, match=message):
        _query(**params)


def test_a_query_without_ranges_is_still_plain() -> None:
    assert _query().plain and _query(metric="anls").plain
    assert not _query(latency_min="1").plain and not _query(sample_id="x").plain
    assert Ranges.from_params({"metric": "anls"}).where() == []


async def test_facets_are_every_value_of_the_experiment(database: Database) -> None:
    exp_id = await experiment_with_samples(database, _samples(30))
    await experiment_with_samples(
        database, [{**s, "run": "other", "scores": {"cer": 1}} for s in _samples(3)]
    )
    found = await Facets(database.engine).of(exp_id)
    assert found == {
        "runs": ["model0__receipts__p", "model1__receipts__p", "model2__receipts__p"],
        "doc_classes": ["invoice", "receipt"],
        "question_types": ["kie"],
        "metrics": ["anls", "field_f1"],
    }


def test_field_table_scores_each_field_as_the_field_metrics_do() -> None:
    reference = json.dumps(
        {"company": "BOOK TA.K (TAMAN DAYA)", "date": "25/12/2018", "total": "9.00"}
    )
    answer = '```json\n{"company": "BOOK TA K (TAMAN DAYA)", "date": "25/12/2018", "tax": "0"}\n```'
    rows = {row["field"]: row for row in field_table(reference, answer) or []}
    assert list(rows) == ["company", "date", "total", "tax"]
    assert rows["date"] == {
        "field": "date",
        "reference": "25/12/2018",
        "answer": "25/12/2018",
        "scores": {"exact_match": 1.0, "anls": 1.0},
    }
    assert rows["company"]["scores"]["exact_match"] == 0.0
    assert rows["company"]["scores"]["anls"] == pytest.approx(1 - 1 / 22)
    assert rows["total"]["answer"] is None and rows["total"]["scores"]["anls"] == 0.0
    assert rows["tax"] == {"field": "tax", "reference": None, "answer": "0", "scores": {}}
    # not a KIE sample: no table
    assert field_table("plain text", "x") is None and field_table(None, "x") is None
    assert field_table("[1, 2]", "x") is None
    # an answer that is not JSON predicts no field
    unparsed = field_table(reference, "I cannot read this receipt")
    assert unparsed is not None and all(r["answer"] is None for r in unparsed)


async def test_routes_on_a_real_server(
    tmp_path: Path, sqlite_url: str, server_factory: list
) -> None:
    server = ServerProcess(tmp_path / "work", sqlite_url).start()
    server_factory.append(server)
    source = tmp_path / "work" / "imports" / "bench"  # inside the server's own work dir
    make_workdir(source, "bench", samples=12)
    async with server.client() as client:
        imported = await client.post("/api/import", json={"workdir": str(source)})
        assert imported.status_code in (200, 201), imported.text
        exp = imported.json()["imported"][0]["id"]
        base = f"/api/experiments/{exp}/samples"

        facets = (await client.get(f"{base}/facets")).json()
        assert len(facets["runs"]) == 4 and facets["doc_classes"]
        assert "field_f1" in facets["metrics"]

        page = (await client.get(base, params={"q": "passport-fields-3", "limit": 1000})).json()
        row = next(i for i in page["items"] if i["sample_id"].endswith("fields-3"))
        answers = (await client.get(f"{base}/{row['id']}/answers")).json()
        assert answers["sample_id"] == row["sample_id"]
        assert sorted(a["run"] for a in answers["items"]) == sorted(
            r for r in facets["runs"] if "passport" in r
        )
        fields = answers["items"][0]["fields"]
        by_field = {f["field"]: f for f in fields}
        assert sorted(by_field) == ["number", "surname"]
        assert by_field["surname"]["reference"] == "IVANOV3"
        vqa = (await client.get(base, params={"q": "docs-vqa-3", "limit": 1})).json()
        vqa_answers = (await client.get(f"{base}/{vqa['items'][0]['id']}/answers")).json()
        assert all(a["fields"] is None for a in vqa_answers["items"])

        ranged = await client.get(
            base, params={"metric": "field_f1", "score_min": "1", "limit": 1000}
        )
        assert ranged.status_code == 200
        assert all(i["scores"]["field_f1"] >= 1 for i in ranged.json()["items"])
        assert 0 < ranged.json()["total"] < 24

        bad = await client.get(base, params={"score_min": "x", "metric": "anls"})
        assert bad.status_code == 422 and "score_min: expected a number" in bad.text
        assert (await client.get(f"{base}/999999/answers")).status_code == 404
        assert (await client.get("/api/experiments/999999/samples/facets")).status_code == 404
