"""The two multi-page tasks: document type by keywords, page order by printed numbers.

The rules are checked on hand-made rows; the whole path (several images in one message,
the wrapper, real Tesseract) on pages rendered with Pillow like the synthetic packets, with
the prompts of ``registries/prompts/doc-class.yaml`` and ``page-order-json.yaml``.
"""

from __future__ import annotations

import json

import openai
import pytest
from conftest import API_KEY, data_url, needs_tesseract, render
from vlmhb_api_wrapper import ChatMessage, GenerationRequest, ImagePart, TextPart
from vlmhb_ocr_adapter import (
    OcrBackend,
    answer_pages,
    classify,
    continuation_key,
    is_page_order_format,
    label_scores,
    labels_in_prompt,
    order_pages,
    printed_page_number,
)
from vlmhb_ocr_adapter.layout import Row, Word

LABELS = "invoice, tin_new, tin_old, passport, snils, interest_free_loan_agreement"
CLASS_PROMPT = f"Определи тип документа на изображениях. Ответь одним словом из списка: {LABELS}."
ORDER_SYSTEM = "Ты упорядочиваешь страницы документа и отвечаешь только JSON."
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "array", "items": {"type": "integer", "minimum": 1}}},
    "required": ["order"],
    "additionalProperties": False,
}
ORDER_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "page_order", "schema": ORDER_SCHEMA},
}


def rows(*lines: str) -> list[Row]:
    """One row per line, words 10 px apart: what a clean page reads as."""
    return [
        Row(tuple(Word(word, 20 * i, 30 * r, 10, 20) for i, word in enumerate(line.split())))
        for r, line in enumerate(lines)
    ]


# --- page numbers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "number"),
    [
        (["ЛИЧНЫЕ ДАННЫЕ", "Фамилия: ИВАНОВ", "Страница 2 из 4"], 2),
        (["INVOICE INV-2024-0042 (continued)", "5. Paper x 2 @ 3.10 = 6.20", "Page 3 of 3"], 3),
        (["Отчёт", "стр. 7"], 7),
        (["см. стр. 9", "Страница 1 из 2"], 1),  # "of n" beats a reference in the text
        (["1. Paper x 2 @ 3.10 = 6.20", "Total: 6.20 USD"], None),  # item numbers are not pages
        (["Дети: 2", "Дом: 14"], None),
        (["Страница3из4"], 3),  # OCR glued the words
    ],
)
def test_printed_page_number(lines, number):
    assert printed_page_number(rows(*lines)) == number


@pytest.mark.parametrize(
    ("numbers", "order"),
    [
        ([3, 1, 4, 2], [2, 4, 1, 3]),
        ([None, None, None], [1, 2, 3]),  # nothing printed: input order
        ([2, None, 1, None], [3, 1, 2, 4]),  # numbered first, the rest as given
        ([None, 3, None], [1, 3, 2]),  # a number keeps its slot, the others fill the gaps
        ([1, 1, 9, None], [1, 2, 3, 4]),  # a duplicate or out-of-range number counts as none
        ([], []),
    ],
)
def test_order_pages(numbers, order):
    assert order_pages(numbers) == order
    assert sorted(order) == list(range(1, len(numbers) + 1))  # always a permutation


def test_continuation_cues_order_the_unnumbered_pages():
    card = rows("СТРАХОВОЕ СВИДЕТЕЛЬСТВО", "Номер СНИЛС: 150-243-149 12")
    form = rows("АНКЕТА ЗАСТРАХОВАННОГО ЛИЦА", "1. Фамилия: Павлов", "2. Имя: Алексей")
    more = rows("АНКЕТА (продолжение)", "6. Место рождения: гор. Омск")
    keys = [continuation_key(page) for page in (more, card, form)]
    assert keys == [(True, 6), (False, 0), (False, 1)]
    assert order_pages([None, None, None], keys) == [2, 3, 1]
    # a printed number still wins its slot; the cues order only the rest
    assert order_pages([None, 1, None], keys) == [2, 3, 1]
    assert order_pages([3, None, None], keys) == [2, 3, 1]
    with pytest.raises(ValueError, match="cues: expected 3"):
        order_pages([None, None, None], keys[:2])


def test_page_order_is_recognised_by_the_schema():
    assert is_page_order_format(ORDER_FORMAT)
    other = {"type": "json_schema", "json_schema": {"schema": {"properties": {"name": {}}}}}
    assert not is_page_order_format(other)
    assert not is_page_order_format({"type": "json_object"})
    assert not is_page_order_format(None)
    pages = [rows("Страница 2 из 2"), rows("Страница 1 из 2")]
    assert json.loads(answer_pages("порядок", pages, ORDER_FORMAT)) == {"order": [2, 1]}


# --- document type ----------------------------------------------------------------------


def test_labels_come_from_the_prompt():
    assert labels_in_prompt(CLASS_PROMPT) == LABELS.split(", ")
    assert labels_in_prompt("Answer one of: receipt, bank_statement, other_doc") == [
        "receipt",
        "bank_statement",
        "other_doc",
    ]
    # a field question naming a couple of things is no label list
    assert labels_in_prompt("Write the name, date of birth") == []
    assert labels_in_prompt("Распознай текст на изображении") == []


@pytest.mark.parametrize(
    ("pages", "label"),
    [
        ([rows("РОССИЙСКАЯ ФЕДЕРАЦИЯ", "ПАСПОРТ ГРАЖДАНИНА"), rows("ЛИЧНЫЕ ДАННЫЕ")], "passport"),
        ([rows("АНКЕТА ЗАСТРАХОВАННОГО ЛИЦА"), rows("СТРАХОВОЕ СВИДЕТЕЛЬСТВО")], "snils"),
        ([rows("Номер СНИЛС: 123-456-789 00")], "snils"),
        ([rows("INVOICE", "Seller: Acme"), rows("Total: 5.00 USD")], "invoice"),
        ([rows("Счёт на оплату № 12")], "invoice"),
        ([rows("ДОГОВОР БЕСПРОЦЕНТНОГО ЗАЙМА", "Займодавец: Иванов")], "loan"),
        ([rows("ПАСП0РТ ГРАЖДАНИНА")], "passport"),  # a misread letter (0 for О)
    ],
)
def test_keywords_pick_the_label(pages, label):
    label = "interest_free_loan_agreement" if label == "loan" else label
    assert classify(pages, LABELS.split(", ")) == label
    assert answer_pages(CLASS_PROMPT, pages, None) == label


def test_short_keywords_are_whole_words():
    # «инн» inside «длинный» is not an ИНН; a page with nothing known gets no guess
    assert label_scores([rows("длинный коридор")], ["tin_new"]) == {"tin_new": 0.0}
    assert classify([rows("длинный коридор")], LABELS.split(", ")) == ""
    assert classify([rows("ИНН 7707083893")], ["passport", "tin_old", "tin_new"]) == "tin_old"


def test_only_the_offered_labels_are_answered():
    pages = [rows("ПАСПОРТ ГРАЖДАНИНА", "Invoice No: 5")]
    assert classify(pages, ["invoice", "snils"]) == "invoice"
    with pytest.raises(ValueError, match="lists no labels"):
        classify(pages, [])


def test_other_prompts_still_get_text_and_fields():
    pages = [rows("Фамилия: Иванов"), rows("Имя: Пётр")]
    assert answer_pages("Распознай текст", pages, None) == "Фамилия: Иванов\nИмя: Пётр"
    assert answer_pages("Напиши Имя", pages, None) == "Пётр"  # found on the second image


# --- real Tesseract, several images in one message --------------------------------------


def passport_pages(numbered: bool) -> list[bytes]:
    """Four pages like the synthetic passport packet, in their true order."""
    pages = [
        ["РОССИЙСКАЯ ФЕДЕРАЦИЯ", "ПАСПОРТ ГРАЖДАНИНА", "Серия и номер: 45 12 345678"],
        ["ЛИЧНЫЕ ДАННЫЕ", "Фамилия: ИВАНОВ", "Имя: ПЁТР"],
        ["МЕСТО ЖИТЕЛЬСТВА", "Улица: ул. Ленина", "Дом: 14"],
        ["СЕМЕЙНОЕ ПОЛОЖЕНИЕ", "Брак: не зарегистрирован", "Дети: 2"],
    ]
    return [
        render(lines + ([f"Страница {k} из 4"] if numbered else []))
        for k, lines in enumerate(pages, start=1)
    ]


def invoice_pages(numbered: bool = True) -> list[bytes]:
    pages = [
        ["INVOICE", "Invoice No: INV-2024-0042", "Seller: Acme Ltd", "1. Pens x 1 @ 7.20"],
        ["INVOICE INV-2024-0042 (continued)", "5. Paper x 2 @ 3.10", "6. Lamp x 1 @ 24.50"],
        ["INVOICE INV-2024-0042 (continued)", "17. Markers x 4 @ 6.40", "Total: 48.20 USD"],
    ]
    return [
        render(lines + ([f"Page {k} of 3"] if numbered else []))
        for k, lines in enumerate(pages, start=1)
    ]


def snils_pages() -> list[bytes]:
    return [
        render(["СТРАХОВОЕ СВИДЕТЕЛЬСТВО", "ОБЯЗАТЕЛЬНОГО ПЕНСИОННОГО", "СТРАХОВАНИЯ"]),
        render(["АНКЕТА ЗАСТРАХОВАННОГО ЛИЦА", "1. Фамилия: Петрова"]),
    ]


def several_images(pages: list[bytes], prompt: str) -> list[dict]:
    content = [{"type": "image_url", "image_url": {"url": data_url(page)}} for page in pages]
    return [{"role": "user", "content": [*content, {"type": "text", "text": prompt}]}]


def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=API_KEY, max_retries=0)


@needs_tesseract
@pytest.mark.parametrize(
    ("make", "label"),
    [
        (lambda: passport_pages(False), "passport"),
        (invoice_pages, "invoice"),
        (snils_pages, "snils"),
    ],
)
def test_doc_classification_over_several_pages(ocr_server, make, label):
    pages = make()
    shuffled = pages[1:] + pages[:1]
    completion = client(ocr_server).chat.completions.create(
        model="ocr", messages=several_images(shuffled, CLASS_PROMPT), temperature=0
    )
    assert completion.choices[0].message.content == label


@needs_tesseract
@pytest.mark.parametrize(
    ("make", "shuffle"),
    [(lambda: passport_pages(True), [3, 1, 4, 2]), (invoice_pages, [2, 3, 1])],
)
def test_page_order_from_printed_numbers(ocr_server, make, shuffle):
    """``shuffle[j]`` is the true page shown as image ``j + 1``; the answer inverts it."""
    pages = make()
    given = [pages[page - 1] for page in shuffle]
    prompt = f"Страницы документа перемешаны ({len(pages)} шт.). Верни их порядок."
    completion = client(ocr_server).chat.completions.create(
        model="ocr",
        messages=[{"role": "system", "content": ORDER_SYSTEM}, *several_images(given, prompt)],
        response_format=ORDER_FORMAT,
    )
    order = json.loads(completion.choices[0].message.content)["order"]
    assert [shuffle[position - 1] for position in order] == list(range(1, len(pages) + 1))


@needs_tesseract
def test_unnumbered_pages_keep_their_input_order(ocr_server):
    given = [passport_pages(False)[k] for k in (2, 0, 3, 1)]
    completion = client(ocr_server).chat.completions.create(
        model="ocr", messages=several_images(given, "Порядок?"), response_format=ORDER_FORMAT
    )
    assert json.loads(completion.choices[0].message.content) == {"order": [1, 2, 3, 4]}


@needs_tesseract
def test_unnumbered_pages_follow_continuation_cues(ocr_server):
    pages = invoice_pages(numbered=False)
    given = [pages[2], pages[0], pages[1]]
    completion = client(ocr_server).chat.completions.create(
        model="ocr", messages=several_images(given, "Order?"), response_format=ORDER_FORMAT
    )
    assert json.loads(completion.choices[0].message.content) == {"order": [2, 3, 1]}


@needs_tesseract
async def test_synthetic_packets_with_the_backend(tmp_path):
    """The generator's own packets (where ``vlmhb-synthetic-docs`` is installed: the package
    session does not have it, the repository's integration environment does)."""
    synthetic = pytest.importorskip("vlmhb_synthetic_docs")
    summary = synthetic.generate_packets(tmp_path, seed=0, count=6, noise=1)
    backend = OcrBackend()
    await backend.load({"engine": "tesseract"})
    requests = []
    for packet in summary.packets:
        images = [ImagePart(data=(tmp_path / path).read_bytes()) for path in packet.images]
        requests += [
            GenerationRequest(
                request_id=f"{packet.id}-class",
                messages=[ChatMessage(role="user", content=[*images, TextPart(text=CLASS_PROMPT)])],
            ),
            GenerationRequest(
                request_id=f"{packet.id}-order",
                messages=[ChatMessage(role="user", content=[*images, TextPart(text="Порядок")])],
                response_format=ORDER_FORMAT,
            ),
        ]
    results = await backend.generate(requests)
    for i, packet in enumerate(summary.packets):
        label, order = results[2 * i].text, json.loads(results[2 * i + 1].text)["order"]
        assert label == packet.doc_class, packet.id
        assert order == packet.order, (packet.id, packet.numbered)
    assert {packet.numbered for packet in summary.packets} == {True, False}  # both kinds seen
    # every page was read once: the second question about a packet came from the cache
    assert backend.engine.pages_read == sum(len(p.images) for p in summary.packets)
    await backend.unload()
