"""TEDS against hand-derived values and the tree edit distance against a brute force.

The brute force is the textbook recursive definition of the ordered forest edit distance
(delete the right-most root, insert the right-most root, or map the two right-most trees),
memoised on tuples: slow, short and independent of both APTED and the package's fast path.
"""

from __future__ import annotations

import random
from functools import cache

import pytest
from vlmhb_document_metrics import TableNode, table_scores, tree_edit_distance

Label = tuple[str, int | None, int | None, str]
Tree = tuple[Label, tuple]


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _rename(a: Label, b: Label) -> float:
    if a[:3] != b[:3]:
        return 1.0
    if a[0] == "td" and (a[3] or b[3]):
        return _levenshtein(a[3], b[3]) / max(len(a[3]), len(b[3]))
    return 0.0


@cache
def _forest(f: tuple[Tree, ...], g: tuple[Tree, ...]) -> float:
    if not f and not g:
        return 0.0
    options = []
    if f:
        v = f[-1]
        options.append(_forest(f[:-1] + v[1], g) + 1)
    if g:
        w = g[-1]
        options.append(_forest(f, g[:-1] + w[1]) + 1)
    if f and g:
        v, w = f[-1], g[-1]
        options.append(_forest(f[:-1], g[:-1]) + _forest(v[1], w[1]) + _rename(v[0], w[0]))
    return min(options)


def brute_force(a: TableNode, b: TableNode) -> float:
    def tup(n: TableNode) -> Tree:
        return ((n.tag, n.colspan, n.rowspan, n.content), tuple(tup(c) for c in n.children))

    return _forest((tup(a),), (tup(b),))


def _random_table(rng: random.Random, deep: bool) -> TableNode:
    rows = []
    for _ in range(rng.randint(0, 3)):
        cells = []
        for _ in range(rng.randint(0, 3)):
            span = rng.choice([1, 1, 1, 2])
            content = "".join(rng.choice("ab") for _ in range(rng.randint(0, 2)))
            cells.append(TableNode("td", span, 1, content))
        if deep and rng.random() < 0.3:
            cells.append(TableNode("tr", children=[TableNode("td", 1, 1, "a")]))
        rows.append(TableNode(rng.choice(["tr", "tr", "tr", "td"]), children=cells))
    return TableNode("table", children=rows)


@pytest.mark.parametrize("deep", [False, True], ids=["shallow-fast-path", "deep-apted"])
def test_tree_edit_distance_equals_the_brute_force(deep: bool) -> None:
    rng = random.Random(7)
    for _ in range(150):
        a, b = _random_table(rng, deep), _random_table(rng, deep)
        assert tree_edit_distance(a, b) == pytest.approx(brute_force(a, b), abs=1e-9)


TABLE = "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Pen</td><td>2</td></tr></table>"


def test_identical_tables_score_one() -> None:
    assert table_scores(TABLE, TABLE) == (1.0, 1.0)


def test_one_wrong_character_costs_one_rename_over_the_node_count() -> None:
    # 2 rows + 4 cells = 6 nodes below <table>; "2" -> "3" is one rename at cost 1
    teds, teds_s = table_scores(TABLE.replace(">2<", ">3<"), TABLE)
    assert teds == pytest.approx(1 - 1 / 6)
    assert teds_s == 1.0


def test_half_wrong_cell_costs_half_a_rename() -> None:
    teds, _ = table_scores(TABLE.replace(">Qty<", ">Qtx<"), TABLE)
    assert teds == pytest.approx(1 - (1 / 3) / 6)


def test_a_missing_row_costs_its_nodes() -> None:
    reference = TABLE.replace("</table>", "<tr><td>Ink</td><td>1</td></tr></table>")
    teds, teds_s = table_scores(TABLE, reference)  # 9 nodes; delete one <tr> and two <td>
    assert teds == pytest.approx(1 - 3 / 9)
    assert teds_s == pytest.approx(1 - 3 / 9)


def test_a_wrong_span_is_a_structure_error() -> None:
    merged = "<table><tr><td colspan='2'>Item</td></tr><tr><td>Pen</td><td>2</td></tr></table>"
    teds, teds_s = table_scores(merged, TABLE)
    # map the spanned cell to "Item" (rename 1: spans differ) and delete "Qty": 2 of 6
    assert teds_s == pytest.approx(1 - 2 / 6)
    assert teds == pytest.approx(1 - 2 / 6)


def test_header_markup_and_whitespace_are_normalised_away() -> None:
    dressed = (
        "<table class='x'><thead><tr><th>Item</th><th><span>Qty</span></th></tr></thead>"
        "<tbody><tr><td>Pen</td><td>2</td></tr>\n</tbody></table>"
    )
    assert table_scores(dressed, TABLE) == (1.0, 1.0)


def test_markup_inside_a_cell_is_part_of_its_content() -> None:
    bold = TABLE.replace("<td>Pen</td>", "<td><b>Pen</b></td>")
    teds, teds_s = table_scores(bold, TABLE)
    # tokens <b> P e n </b> vs P e n: distance 2 of 5; nodes: 7 (the <b>) vs 6
    assert teds == pytest.approx(1 - (2 / 5) / 7)
    assert teds_s == pytest.approx(1.0 - 0 / 7)


@pytest.mark.parametrize("prediction", ["", "no table here", "<table><tr><td colspan='x'>a"])
def test_no_readable_table_scores_zero(prediction: str) -> None:
    assert table_scores(prediction, TABLE) == (0.0, 0.0)
