"""response_format is enforced by the grammar: with random weights, every answer validates."""

from __future__ import annotations

import json

import pytest
import xgrammar as xgr
from conftest import png, request, schema_format, user
from jsonschema import Draft202012Validator
from vlmhb_transformers_adapter import JsonCursor, StructuredOutput, TransformersBackend

NESTED = {
    "type": "object",
    "properties": {
        "person": {
            "type": "object",
            "properties": {
                "surname": {"type": "string"},
                "age": {"type": "integer"},
                "address": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                    "required": ["city", "zip"],
                    "additionalProperties": False,
                },
            },
            "required": ["surname", "age", "address"],
            "additionalProperties": False,
        },
        "valid": {"type": "boolean"},
    },
    "required": ["person", "valid"],
    "additionalProperties": False,
}
ENUMS = {
    "type": "object",
    "properties": {
        "doc_type": {"enum": ["passport", "snils", "invoice"]},
        "sex": {"type": "string", "enum": ["МУЖ.", "ЖЕН."]},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
    },
    "required": ["doc_type", "sex", "tags"],
    "additionalProperties": False,
}
PATTERNS = {
    "type": "object",
    "properties": {
        "number": {"type": "string", "pattern": "^[0-9]{2} [0-9]{2} [0-9]{6}$"},
        "code": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{3}$"},
        "date": {"type": "string", "pattern": "^[0-3][0-9]\\.[01][0-9]\\.(19|20)[0-9]{2}$"},
    },
    "required": ["number", "code", "date"],
    "additionalProperties": False,
}
PASSPORT_FIELDS = [
    "Серия и номер",
    "Фамилия",
    "Имя",
    "Отчество",
    "Пол",
    "Дата рождения",
    "Место рождения",
    "Дата выдачи",
    "Код подразделения",
]
PASSPORT = {  # the passport-fields task's schema: Cyrillic keys, all required
    "title": "passport",
    "type": "object",
    "properties": {name: {"type": "string"} for name in PASSPORT_FIELDS},
    "required": PASSPORT_FIELDS,
    "additionalProperties": False,
}
SCHEMAS = {"nested": NESTED, "enums": ENUMS, "patterns": PATTERNS, "passport": PASSPORT}


def _valid(text: str, schema: dict) -> dict:
    answer = json.loads(text)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(answer)]
    assert not errors, f"{text!r}: {errors}"
    return answer


@pytest.mark.parametrize("name", list(SCHEMAS))
async def test_every_answer_validates(loaded_backend: TransformersBackend, name: str) -> None:
    """Greedy and sampled, with and without an image, all in one batch."""
    schema = SCHEMAS[name]
    asks = [
        request("greedy", user("Извлеки поля"), temperature=0),
        request("image", user(png((200, 30, 30)), "Извлеки поля"), temperature=0),
        *[request(f"s{seed}", user("JSON"), temperature=1.0, seed=seed) for seed in range(4)],
    ]
    for ask in asks:
        ask.max_tokens, ask.response_format = 400, schema_format(schema)
    results = await loaded_backend.generate(asks)
    for result in results:
        assert result.error is None and result.finish_reason == "stop", result
        _valid(result.text, schema)


@pytest.mark.parametrize("name", list(SCHEMAS))
async def test_a_tight_budget_still_closes_the_json(
    loaded_backend: TransformersBackend, name: str
) -> None:
    """Near max_tokens the grammar prefers closing tokens, so the JSON ends within budget."""
    schema = SCHEMAS[name]
    probe = loaded_backend._loaded.grammars

    shortest = probe.closing_length(
        xgr.GrammarMatcher(probe.compile(StructuredOutput("json_schema", schema))), JsonCursor()
    )
    budget = shortest + 4
    results = await loaded_backend.generate(
        [
            request(
                f"s{seed}",
                user("JSON"),
                temperature=1.5,
                seed=seed,
                max_tokens=budget,
                response_format=schema_format(schema),
            )
            for seed in range(3)
        ]
    )
    for result in results:
        assert result.completion_tokens <= budget
        _valid(result.text, schema)


async def test_json_object_gives_an_object(loaded_backend: TransformersBackend) -> None:
    results = await loaded_backend.generate(
        [
            request(
                f"o{seed}",
                user("JSON"),
                temperature=1.0,
                seed=seed,
                max_tokens=40,
                response_format={"type": "json_object"},
            )
            for seed in range(4)
        ]
    )
    for result in results:
        assert isinstance(json.loads(result.text), dict), result


async def test_constrained_and_free_rows_share_a_batch(loaded_backend: TransformersBackend) -> None:
    free, constrained, other = await loaded_backend.generate(
        [
            request("free", user("Привет"), max_tokens=5, temperature=0),
            request("json", user("JSON"), max_tokens=300, response_format=schema_format(ENUMS)),
            request("json2", user("JSON"), max_tokens=300, response_format=schema_format(PATTERNS)),
        ]
    )
    assert free.error is None and free.completion_tokens <= 5
    _valid(constrained.text, ENUMS)
    _valid(other.text, PATTERNS)
