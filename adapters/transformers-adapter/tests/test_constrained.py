"""response_format is enforced by the grammar: with random weights, every answer validates."""

from __future__ import annotations

import asyncio
import json

import pytest
import xgrammar as xgr
from conftest import build_tiny, png, request, schema_format, user
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


BOUNDED = {  # length-bounded strings: xgrammar 0.2.9's rule for them admits control characters
    "type": "object",
    "properties": {
        "surname": {"type": "string", "maxLength": 24},
        "number": {"type": "string", "minLength": 1, "maxLength": 12},
        "note": {"type": "string", "minLength": 2},
    },
    "required": ["surname", "number", "note"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module", params=[1, 2], ids=["seed1", "seed2"])
def other_seed_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Tiny Qwen2-VLs with other random weights: other favourite tokens under the grammar."""
    folder = tmp_path_factory.mktemp(f"seed{request.param}") / "tiny-qwen2-vl"
    build_tiny(folder, seed=request.param)
    backend = TransformersBackend()
    asyncio.run(backend.load({"model": str(folder), "device": "cpu", "max_batch_size": 8}))
    yield backend
    asyncio.run(backend.unload())


async def _strict_answers(backend: TransformersBackend) -> None:
    asks = [
        request(
            f"g{i}",
            user(png(((40 * i) % 256, 90, 200), (64, 48)), f"Извлеки поля {i}"),
            temperature=0,
        )
        for i in range(4)
    ]
    asks += [request(f"s{i}", user(f"JSON {i}"), temperature=1.0, seed=i) for i in range(12)]
    for ask in asks:
        ask.max_tokens, ask.response_format = 120, schema_format(BOUNDED)
    for ask, result in zip(asks, await backend.generate(asks), strict=True):
        assert result.error is None and result.finish_reason == "stop", result
        answer = json.loads(result.text, strict=True)  # raises on a raw control character
        errors = [e.message for e in Draft202012Validator(BOUNDED).iter_errors(answer)]
        assert not errors, f"{ask.request_id}: {result.text!r}: {errors}"


async def test_bounded_strings_are_strict_json(loaded_backend: TransformersBackend) -> None:
    """Greedy over images and prompts, sampled over seeds: every answer parses strictly."""
    await _strict_answers(loaded_backend)


async def test_bounded_strings_are_strict_json_on_other_weights(
    other_seed_backend: TransformersBackend,
) -> None:
    await _strict_answers(other_seed_backend)


def test_the_strict_guard_refuses_what_json_forbids(loaded_backend: TransformersBackend) -> None:
    """Inside a length-bounded string the schema grammar would take a raw control byte and a
    surrogate's UTF-8; the guarded matcher does not (and still takes ordinary text)."""
    factory = loaded_backend._loaded.grammars
    tokenizer = loaded_backend._loaded.tokenizer
    byte_token = {raw[0]: i for i, raw in enumerate(factory.decoded_vocab) if len(raw) == 1}
    grammar = factory.compile(StructuredOutput("json_schema", BOUNDED))

    def inside_a_string():
        matcher = factory.matcher(grammar)
        for token in tokenizer.encode('{"surname":"', add_special_tokens=False):
            assert matcher.accept_token(token)
        return matcher

    bare = xgr.GrammarMatcher(grammar)  # what xgrammar alone allows there: the defect
    for token in tokenizer.encode('{"surname":"', add_special_tokens=False):
        assert bare.accept_token(token)
    assert bare.accept_token(byte_token[0x1F])

    matcher = inside_a_string()
    allowed = factory.allowed(matcher)
    assert not allowed[byte_token[0x1F]] and not allowed[byte_token[0x0A]]
    assert allowed[byte_token[ord("a")]] and allowed[byte_token[0xED]]
    assert matcher.accept_token(byte_token[0xED])  # U+D000-D7FF start with ED too
    allowed = factory.allowed(matcher)
    assert allowed[byte_token[0x9F]] and not allowed[byte_token[0xA0]]  # ED A0..: surrogates
