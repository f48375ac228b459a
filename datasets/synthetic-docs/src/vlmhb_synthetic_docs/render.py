"""Draw documents as "Label: value" lines and record the exact box of every value.

Labels and values sit on one line in a large, plain font so that both a VLM and an OCR
baseline ("find the value next to the label") can read them; the ground truth comes from the
same strings that were drawn, so it is exact by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from PIL import Image, ImageDraw

from vlmhb_synthetic_docs import fake
from vlmhb_synthetic_docs.typefaces import font

TEXT = (20, 20, 20)
BODY_SIZE = 34
MARGIN = 60
LINE_GAP = 22


@dataclass
class RenderedDocument:
    """An image with its full text (line by line), its fields and each field value's box."""

    doc_class: str
    image: Image.Image
    lines: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    boxes: dict[str, list[int]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Page:
    """A cursor over a blank card: titles, labelled fields and free lines, top to bottom."""

    def __init__(self, doc_class: str, size: tuple[int, int], background: tuple[int, int, int]):
        self.doc = RenderedDocument(doc_class, Image.new("RGB", size, background))
        self.draw = ImageDraw.Draw(self.doc.image)
        self.y = MARGIN

    def title(self, text: str, size: int = 40) -> None:
        face = font(size, bold=True)
        width = self.draw.textlength(text, font=face)
        x = (self.doc.image.width - width) / 2
        self.draw.text((x, self.y), text, font=face, fill=TEXT)
        self.doc.lines.append(text)
        self.y += size + LINE_GAP

    def line(self, text: str, size: int = BODY_SIZE) -> None:
        self.draw.text((MARGIN, self.y), text, font=font(size), fill=TEXT)
        self.doc.lines.append(text)
        self.y += size + LINE_GAP

    def field(self, name: str, value: str, size: int = BODY_SIZE) -> None:
        """``name: value`` on one line; the value is drawn bold and its box recorded."""
        label = f"{name}: "
        self.draw.text((MARGIN, self.y), label, font=font(size), fill=TEXT)
        x = MARGIN + self.draw.textlength(label, font=font(size))
        face = font(size, bold=True)
        self.draw.text((x, self.y), value, font=face, fill=TEXT)
        x1, y1, x2, y2 = self.draw.textbbox((x, self.y), value, font=face)
        self.doc.boxes[name] = [int(x1), int(y1), int(x2 + 0.999), int(y2 + 0.999)]
        self.doc.fields[name] = value
        self.doc.lines.append(f"{name}: {value}")
        self.y += size + LINE_GAP

    def gap(self, pixels: int) -> None:
        self.y += pixels

    def footer(self, text: str, size: int = 26) -> None:
        """A centred line at the bottom of the page (a page number); part of the text."""
        face = font(size)
        width = self.draw.textlength(text, font=face)
        x = (self.doc.image.width - width) / 2
        self.draw.text((x, self.doc.image.height - MARGIN - size), text, font=face, fill=TEXT)
        self.doc.lines.append(text)

    def finish(self, crop: bool = True) -> RenderedDocument:
        """Crop the card to its content (unless ``crop`` is false: a full page) and frame it.

        Boxes are unaffected (they are measured from the top-left corner).
        """
        if crop:
            height = min(self.doc.image.height, self.y - LINE_GAP + MARGIN)
            self.doc.image = self.doc.image.crop((0, 0, self.doc.image.width, height))
        height = self.doc.image.height
        draw = ImageDraw.Draw(self.doc.image)
        width = self.doc.image.width
        draw.rectangle([12, 12, width - 13, height - 13], outline=(90, 90, 90), width=3)
        return self.doc


def passport(rng: random.Random) -> RenderedDocument:
    p = fake.person(rng)
    earliest = max(p.birth_date + timedelta(days=20 * 365 + 5), date(2000, 1, 1))
    issued = fake.random_date(rng, earliest, date(2025, 6, 30))
    page = Page("passport", (1400, 900), (250, 244, 236))
    page.title("РОССИЙСКАЯ ФЕДЕРАЦИЯ")
    page.title("ПАСПОРТ ГРАЖДАНИНА", size=36)
    page.gap(10)
    page.field("Серия и номер", fake.passport_number(rng))
    page.field("Фамилия", p.surname.upper())
    page.field("Имя", p.name.upper())
    page.field("Отчество", p.patronymic.upper())
    page.field("Пол", "МУЖ." if p.male else "ЖЕН.")
    page.field("Дата рождения", fake.ru_date(p.birth_date))
    page.field("Место рождения", p.birth_place.upper())
    page.field("Дата выдачи", fake.ru_date(issued))
    page.field("Код подразделения", fake.department_code(rng))
    return page.finish()


def snils(rng: random.Random) -> RenderedDocument:
    p = fake.person(rng)
    registered = fake.random_date(rng, date(1997, 1, 1), date(2024, 12, 31))
    page = Page("snils", (1400, 760), (236, 246, 236))
    page.title("СТРАХОВОЕ СВИДЕТЕЛЬСТВО", size=38)
    page.title("ОБЯЗАТЕЛЬНОГО ПЕНСИОННОГО СТРАХОВАНИЯ", size=32)
    page.gap(10)
    page.field("Номер СНИЛС", fake.snils_number(rng))
    page.field("Полное имя", p.full_name)
    page.field("Дата рождения", fake.ru_date(p.birth_date))
    page.field("Полное место рождения", p.birth_place)
    page.field("Пол", "Мужской" if p.male else "Женский")
    page.field("Дата регистрации", fake.ru_date(registered))
    return page.finish()


def invoice(rng: random.Random) -> RenderedDocument:
    seller, buyer = rng.sample(fake.COMPANIES, 2)
    day = fake.random_date(rng, date(2021, 1, 1), date(2025, 12, 31))
    items = rng.sample(fake.GOODS, rng.randrange(2, 5))
    page = Page("invoice", (1400, 1000), (255, 255, 255))
    page.title("INVOICE", size=44)
    page.field("Invoice No", f"INV-{day.year}-{rng.randrange(1, 9999):04d}")
    page.field("Date", day.isoformat())
    page.field("Seller", seller)
    page.field("Buyer", buyer)
    page.gap(6)
    total_cents = 0
    for name, price in items:
        quantity = rng.randrange(1, 10)
        cents = round(price * 100) * quantity
        total_cents += cents
        page.line(f"{name} x {quantity} @ {price:.2f} = {cents / 100:.2f}", size=30)
    page.gap(6)
    page.field("Total", f"{total_cents / 100:.2f} USD")
    return page.finish()


# The fields of each document class, in the order they are drawn (and asked about).
FIELDS: dict[str, tuple[str, ...]] = {
    "passport": (
        "Серия и номер",
        "Фамилия",
        "Имя",
        "Отчество",
        "Пол",
        "Дата рождения",
        "Место рождения",
        "Дата выдачи",
        "Код подразделения",
    ),
    "snils": (
        "Номер СНИЛС",
        "Полное имя",
        "Дата рождения",
        "Полное место рождения",
        "Пол",
        "Дата регистрации",
    ),
    "invoice": ("Invoice No", "Date", "Seller", "Buyer", "Total"),
}
RENDERERS = {"passport": passport, "snils": snils, "invoice": invoice}
DOC_CLASSES = tuple(RENDERERS)
