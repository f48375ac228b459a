"""Multi-page documents ("packets") for two tasks: document classification and page order.

A packet is one document of one class spread over several full pages: a passport (cover,
personal data, place of residence, family status), a SNILS packet (the card, then the two
pages of the insured person's form) or an invoice (header and first items, continued items,
totals). Its pages are given to the model shuffled (never in their true order), with page
numbers printed on a seeded half of the packets, so ``page-order`` has cues either way
(printed numbers; or titles, "continued" marks and numbered items) and ``doc-classification``
has to be answered from several images at once. Ground truth is exact: it is the order the
pages were drawn in.

Everything is seeded by ``(seed, packet index)`` like :func:`~.generator.generate`, and
uses the same exact noise and fixed PNG settings, so the bytes are reproducible too.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from vlmhb_synthetic_docs import fake
from vlmhb_synthetic_docs.generator import (
    _jsonl,
    check_request,
    pixels_digest,
    save_png,
    write_summary,
)
from vlmhb_synthetic_docs.noise import apply_noise
from vlmhb_synthetic_docs.render import Page, RenderedDocument

# Every label of the v0.1 document-classification task, in its order; the generator makes
# the first three kinds (PACKET_CLASSES), the prompt offers all of them.
CLASSIFICATION_LABELS = (
    "invoice",
    "tin_new",
    "tin_old",
    "passport",
    "snils",
    "interest_free_loan_agreement",
)
PACKET_CLASSES = ("passport", "snils", "invoice")
PAGE_SIZE = (1100, 1000)
BODY = 30
STREETS = ["ул. Ленина", "ул. Советская", "ул. Мира", "пр. Победы", "ул. Садовая", "ул. Лесная"]


class PacketInfo(BaseModel):
    """One packet: the images in the order given to the model, and the true order."""

    id: str
    doc_class: str
    images: list[str]  # relative to the output folder, in the (shuffled) input order
    order: list[int]  # order[i]: 1-based input position of the document's page i + 1
    page_of_image: list[int]  # page_of_image[j]: true page number of input image j + 1
    numbered: bool  # whether page numbers are printed
    pixels_sha256: list[str]  # per input image, see pixels_digest


class PacketSummary(BaseModel):
    out_dir: str
    seed: int
    count: int
    noise: int
    packets: list[PacketInfo]
    files: dict[str, str]
    fingerprint: str = ""  # fingerprint(out_dir) of everything written; not in summary.json


def page_order_schema(pages: int) -> dict[str, Any]:
    """The answer of ``page-order``: ``{"order": [...]}``, a permutation of 1..pages."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "page_order",
        "type": "object",
        "properties": {
            "order": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": pages},
                "minItems": pages,
                "maxItems": pages,
                "uniqueItems": True,
            }
        },
        "required": ["order"],
        "additionalProperties": False,
    }


def _page(doc_class: str, background: tuple[int, int, int]) -> Page:
    return Page(doc_class, PAGE_SIZE, background)


def _passport(rng: random.Random) -> list[Page]:
    p = fake.person(rng)
    earliest = max(p.birth_date + timedelta(days=20 * 365 + 5), date(2000, 1, 1))
    issued = fake.random_date(rng, earliest, date(2025, 6, 30))
    registered = fake.random_date(rng, issued, date(2025, 12, 31))
    paper = (250, 244, 236)
    cover = _page("passport", paper)
    cover.title("РОССИЙСКАЯ ФЕДЕРАЦИЯ")
    cover.title("ПАСПОРТ ГРАЖДАНИНА", size=36)
    cover.gap(20)
    cover.field("Серия и номер", fake.passport_number(rng), size=BODY)
    cover.field("Паспорт выдан", "МВД России", size=BODY)
    cover.field("Дата выдачи", fake.ru_date(issued), size=BODY)
    cover.field("Код подразделения", fake.department_code(rng), size=BODY)
    personal = _page("passport", paper)
    personal.title("ЛИЧНЫЕ ДАННЫЕ", size=36)
    personal.field("Фамилия", p.surname.upper(), size=BODY)
    personal.field("Имя", p.name.upper(), size=BODY)
    personal.field("Отчество", p.patronymic.upper(), size=BODY)
    personal.field("Пол", "МУЖ." if p.male else "ЖЕН.", size=BODY)
    personal.field("Дата рождения", fake.ru_date(p.birth_date), size=BODY)
    personal.field("Место рождения", p.birth_place.upper(), size=BODY)
    residence = _page("passport", paper)
    residence.title("МЕСТО ЖИТЕЛЬСТВА", size=36)
    residence.field("Населённый пункт", rng.choice(fake.PLACES), size=BODY)
    residence.field("Улица", rng.choice(STREETS), size=BODY)
    residence.field("Дом", str(rng.randrange(1, 150)), size=BODY)
    residence.field("Квартира", str(rng.randrange(1, 300)), size=BODY)
    residence.field("Зарегистрирован", fake.ru_date(registered), size=BODY)
    family = _page("passport", paper)
    family.title("СЕМЕЙНОЕ ПОЛОЖЕНИЕ", size=36)
    married = rng.random() < 0.5
    family.field("Брак", "зарегистрирован" if married else "не зарегистрирован", size=BODY)
    family.field("Дети", str(rng.randrange(0, 4)), size=BODY)
    return [cover, personal, residence, family]


def _snils(rng: random.Random) -> list[Page]:
    p = fake.person(rng)
    registered = fake.random_date(rng, date(1997, 1, 1), date(2024, 12, 31))
    filled = registered - timedelta(days=rng.randrange(1, 30))
    paper = (236, 246, 236)
    card = _page("snils", paper)
    card.title("СТРАХОВОЕ СВИДЕТЕЛЬСТВО", size=36)
    card.title("ОБЯЗАТЕЛЬНОГО ПЕНСИОННОГО", size=30)
    card.title("СТРАХОВАНИЯ", size=30)
    card.gap(10)
    card.field("Номер СНИЛС", fake.snils_number(rng), size=BODY)
    card.field("Полное имя", p.full_name, size=BODY)
    card.field("Дата рождения", fake.ru_date(p.birth_date), size=BODY)
    card.field("Пол", "Мужской" if p.male else "Женский", size=BODY)
    card.field("Дата регистрации", fake.ru_date(registered), size=BODY)
    form = _page("snils", (255, 255, 255))
    form.title("АНКЕТА ЗАСТРАХОВАННОГО ЛИЦА", size=34)
    form.field("1. Фамилия", p.surname, size=BODY)
    form.field("2. Имя", p.name, size=BODY)
    form.field("3. Отчество", p.patronymic, size=BODY)
    form.field("4. Пол", "мужской" if p.male else "женский", size=BODY)
    form.field("5. Дата рождения", fake.ru_date(p.birth_date), size=BODY)
    more = _page("snils", (255, 255, 255))
    more.title("АНКЕТА (продолжение)", size=34)
    more.field("6. Место рождения", p.birth_place, size=BODY)
    more.field("7. Гражданство", "РФ", size=BODY)
    phone = f"+7 9{rng.randrange(10, 99)} {rng.randrange(100, 999)}-{rng.randrange(10, 99)}-00"
    more.field("8. Телефон", phone, size=BODY)
    more.field("Дата заполнения", fake.ru_date(filled), size=BODY)
    return [card, form, more]


def _invoice(rng: random.Random) -> list[Page]:
    seller, buyer = rng.sample(fake.COMPANIES, 2)
    day = fake.random_date(rng, date(2021, 1, 1), date(2025, 12, 31))
    number = f"INV-{day.year}-{rng.randrange(1, 9999):04d}"
    middle_pages = rng.randrange(0, 3)
    counts = [4] + [12] * middle_pages + [rng.randrange(2, 7)]
    pages: list[Page] = []
    item, total_cents = 0, 0
    for position, count in enumerate(counts):
        page = _page("invoice", (255, 255, 255))
        if position == 0:
            page.title("INVOICE", size=44)
            page.field("Invoice No", number, size=BODY)
            page.field("Date", day.isoformat(), size=BODY)
            page.field("Seller", seller, size=BODY)
            page.field("Buyer", buyer, size=BODY)
            page.gap(6)
        else:
            page.title(f"INVOICE {number} (continued)", size=36)
        for _ in range(count):
            name, price = rng.choice(fake.GOODS)
            quantity = rng.randrange(1, 10)
            cents = round(price * 100) * quantity
            total_cents += cents
            item += 1
            page.line(f"{item}. {name} x {quantity} @ {price:.2f} = {cents / 100:.2f}", size=28)
        if position == len(counts) - 1:
            page.gap(6)
            page.field("Items", str(item), size=BODY)
            page.field("Total", f"{total_cents / 100:.2f} USD", size=BODY)
        pages.append(page)
    return pages


PACKET_RENDERERS = {"passport": _passport, "snils": _snils, "invoice": _invoice}


def render_packet(
    index: int, doc_class: str, seed: int, noise: int
) -> tuple[list[RenderedDocument], list[int], bool, list[dict[str, Any]]]:
    """The pages in their true order, the shuffled input order, and what was drawn how.

    Returns ``(pages, order, numbered, noise_params)``: ``order[i]`` is the 1-based input
    position of page ``i + 1``. The shuffle is redrawn until it differs from the true order.
    """
    if doc_class not in PACKET_RENDERERS:
        raise ValueError(f"doc_class: expected one of {list(PACKET_CLASSES)}, got {doc_class!r}")
    rng = random.Random(f"vlmhb-synthetic-docs:packet:{seed}:{index}")
    pages = PACKET_RENDERERS[doc_class](rng)
    numbered = rng.random() < 0.5
    total = len(pages)
    rendered: list[RenderedDocument] = []
    params: list[dict[str, Any]] = []
    for number, page in enumerate(pages, start=1):
        if numbered:
            page.footer(
                f"Page {number} of {total}"
                if doc_class == "invoice"
                else f"Страница {number} из {total}"
            )
        doc = page.finish(crop=False)
        page_rng = random.Random(f"vlmhb-synthetic-docs:packet:{seed}:{index}:page:{number}")
        doc.image, doc.boxes, used = apply_noise(doc.image, doc.boxes, noise, page_rng)
        rendered.append(doc)
        params.append(used)
    positions = list(range(1, total + 1))
    while total > 1 and positions == sorted(positions):
        rng.shuffle(positions)
    return rendered, positions, numbered, params


def generate_packets(
    out_dir: str | Path,
    *,
    seed: int = 0,
    count: int = 6,
    noise: int = 1,
    doc_classes: list[str] | tuple[str, ...] = PACKET_CLASSES,
) -> PacketSummary:
    """Generate ``count`` packets (doc classes in turn) into ``out_dir``; see the README."""
    check_request(count, doc_classes, PACKET_CLASSES)
    out = Path(out_dir)
    labels = ", ".join(CLASSIFICATION_LABELS)
    classification: list[dict[str, Any]] = []
    page_order: list[dict[str, Any]] = []
    packets: list[PacketInfo] = []
    for index in range(count):
        doc_class = doc_classes[index % len(doc_classes)]
        pages, order, numbered, params = render_packet(index, doc_class, seed, noise)
        packet_id = f"packet-{index:04d}"
        folder = out / "packets" / packet_id
        folder.mkdir(parents=True, exist_ok=True)
        images = [f"packets/{packet_id}/{position}.png" for position in range(1, len(pages) + 1)]
        page_of_image = [0] * len(pages)
        for page_number, position in enumerate(order, start=1):
            page_of_image[position - 1] = page_number
            save_png(pages[page_number - 1].image, out / images[position - 1])
        digests = [pixels_digest(pages[page - 1].image) for page in page_of_image]
        meta = {"pages": len(pages), "numbered": numbered}
        classification.append(
            {
                "id": packet_id,
                "images": images,
                "label": doc_class,
                "doc_class": doc_class,
                "prompt_vars": {"labels": labels, "pages": str(len(pages))},
                "metadata": meta,
            }
        )
        page_order.append(
            {
                "id": packet_id,
                "images": images,
                "reference": json.dumps(order),
                "fields": {"order": order},
                "doc_class": doc_class,
                "prompt_vars": {
                    "pages": str(len(pages)),
                    "json_schema": json.dumps(page_order_schema(len(pages))),
                },
                "metadata": {**meta, "page_of_image": page_of_image},
            }
        )
        truth = {
            "id": packet_id,
            "doc_class": doc_class,
            "numbered": numbered,
            "order": order,
            "pages": [
                {
                    "page": number,
                    "image": images[order[number - 1] - 1],
                    "text": page.text,
                    "fields": {
                        n: {"value": page.fields[n], "bboxes": [page.boxes[n]]} for n in page.fields
                    },
                    "image_size": list(page.image.size),
                    "noise": {"level": noise, **params[number - 1]},
                }
                for number, page in enumerate(pages, start=1)
            ],
        }
        (out / "packets" / f"{packet_id}.json").write_text(
            json.dumps(truth, ensure_ascii=False, indent=2), encoding="utf-8"
        )
        packets.append(
            PacketInfo(
                id=packet_id,
                doc_class=doc_class,
                images=images,
                order=order,
                page_of_image=page_of_image,
                numbered=numbered,
                pixels_sha256=digests,
            )
        )
    _jsonl(out / "doc_classification.jsonl", classification)
    _jsonl(out / "page_order.jsonl", page_order)
    summary = PacketSummary(
        out_dir=str(out.resolve()),
        seed=seed,
        count=count,
        noise=noise,
        packets=packets,
        files={
            "doc-classification": "doc_classification.jsonl",
            "page-order": "page_order.jsonl",
            "truth": "packets/<id>.json",
        },
    )
    summary.fingerprint = write_summary(out, summary)
    return summary
