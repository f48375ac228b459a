"""TEDS and TEDS-S: tree-edit-distance similarity of two HTML tables (Zhong et al., 2020).

The definition is PubTabNet's, as OmniDocBench scores tables with it:

* both tables are normalised as OmniDocBench does (``normalized_html_table``): ``<th>``
  becomes ``<td>``; ``<thead>``, ``<tbody>``, ``<span>``, ``<sup>``, ``<sub>``, ``<div>``
  and ``<p>`` tags are dropped (their text kept); ``<colgroup>`` is removed; line breaks are
  removed, text is NFKC-normalised and whitespace runs become one space;
* a table is a tree of its elements down to the cells: a ``<td>`` node carries its
  ``colspan``, its ``rowspan`` and, for TEDS, its content as tokens (each character, and
  ``<b>``/``</b>``-style tokens for markup inside the cell);
* deleting or inserting a node costs 1; renaming costs 1 when the tags or spans differ,
  else, for two cells, the normalised Levenshtein distance of their tokens (0 for TEDS-S,
  which ignores content), else 0;
* ``TEDS = 1 - TED / N``, N being the larger count of elements below ``<table>`` (markup
  inside cells included, as PubTabNet counts). A side without a table scores 0.

The tree edit distance is APTED (the ``apted`` package, the algorithm PubTabNet uses) for any
tree. Tables in practice are shallow (``table > tr > td``), and for a root whose children
have only leaf children the same distance comes from the Zhang-Shasha forest recurrence
specialised to that shape (:func:`_shallow_distance`), an O(n·m) dynamic programme; it
is exact (the roots, two ``<table>`` nodes renamed at cost 0, can always be mapped to each
other), it is checked against APTED and a brute force in the tests, and it is what makes
TEDS fast (``bench/bench_document_metrics.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from apted import APTED, Config
from lxml import etree, html
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

_WHITESPACE = re.compile(r"\s+")
_UNWRAPPED = ("thead", "tbody", "span", "sup", "sub", "div", "p")
#: Markup tokens inside a cell (``<b>``, ``</b>``) as single characters of a supplementary
#: private-use plane, so that rapidfuzz compares token lists as plain strings.
_TAG_TOKENS: dict[str, str] = {}
_TOKEN_BASE = 0x100000


@dataclass(eq=False)
class TableNode:
    """One node of a table tree; cells carry spans and content, other nodes only a tag."""

    tag: str
    colspan: int | None = None
    rowspan: int | None = None
    content: str = ""
    children: list[TableNode] = field(default_factory=list)

    def signature(self) -> tuple:
        """Equal signatures mean equal trees (distance 0): a shortcut before any DP."""
        return (
            self.tag,
            self.colspan,
            self.rowspan,
            self.content,
            tuple(child.signature() for child in self.children),
        )


class TableError(ValueError):
    """A table that cannot be scored (a span that is not a number); it scores 0."""


def _token(tag: str) -> str:
    code = _TAG_TOKENS.get(tag)
    if code is None:
        code = _TAG_TOKENS[tag] = chr(_TOKEN_BASE + len(_TAG_TOKENS))
    return code


def _cell_tokens(cell: etree._Element) -> str:
    """A cell's content tokens (PubTabNet's ``tokenize`` without the cell's own tags)."""
    out: list[str] = [cell.text or ""]

    def walk(node: etree._Element) -> None:
        out.append(_token(f"<{node.tag}>"))
        out.append(node.text or "")
        for child in node:
            walk(child)
        if node.tag != "unk":
            out.append(_token(f"</{node.tag}>"))
        if node.tag != "td" and node.tail:
            out.append(node.tail)

    for child in cell:
        walk(child)
    return "".join(out)


def _span(cell: etree._Element, name: str) -> int:
    raw = cell.attrib.get(name, "1")
    try:
        return int(raw)
    except ValueError:
        raise TableError(f"<td {name}={raw!r}>: expected an integer span") from None


def normalize_table(text: str) -> etree._Element | None:
    """The first ``<table>`` of ``text``, normalised as OmniDocBench does, or None."""
    if "<table" not in text.replace(" ", "").lower():
        return None
    text = unicodedata.normalize("NFKC", text.replace("\n", ""))
    try:
        root = html.fromstring(text, parser=html.HTMLParser(remove_comments=True))
    except (etree.ParserError, ValueError):
        return None
    table = root if root.tag == "table" else next(root.iter("table"), None)
    if table is None:
        return None
    for colgroup in list(table.iter("colgroup")):
        colgroup.drop_tree()
    etree.strip_tags(table, *_UNWRAPPED)
    for node in table.iter():
        if node.tag == "th":
            node.tag = "td"
        if node is not table:
            node.text = _WHITESPACE.sub(" ", node.text) if node.text else node.text
            node.tail = _WHITESPACE.sub(" ", node.tail) if node.tail else node.tail
    return table


def _tree(node: etree._Element, structure_only: bool) -> TableNode:
    if node.tag == "td":
        content = "" if structure_only else _cell_tokens(node)
        return TableNode("td", _span(node, "colspan"), _span(node, "rowspan"), content)
    return TableNode(str(node.tag), children=[_tree(child, structure_only) for child in node])


@dataclass(frozen=True)
class ParsedTable:
    """A normalised table as the two trees TEDS and TEDS-S compare, and its node count."""

    full: TableNode
    structure: TableNode
    nodes: int


@lru_cache(maxsize=4096)
def parse_table(text: str) -> ParsedTable | None:
    """Parse once for both scores; cached, since a reference table meets many answers."""
    table = normalize_table(text)
    if table is None:
        return None
    return ParsedTable(
        full=_tree(table, structure_only=False),
        structure=_tree(table, structure_only=True),
        nodes=sum(1 for _ in table.iterdescendants()),
    )


def rename_cost(a: TableNode, b: TableNode) -> float:
    if a.tag != b.tag or a.colspan != b.colspan or a.rowspan != b.rowspan:
        return 1.0
    if a.tag == "td" and (a.content or b.content):
        return Levenshtein.normalized_distance(a.content, b.content)
    return 0.0


class _AptedConfig(Config):
    def rename(self, node1: TableNode, node2: TableNode) -> float:
        return rename_cost(node1, node2)

    def children(self, node: TableNode) -> list[TableNode]:
        return node.children


def _is_shallow(root: TableNode) -> bool:
    return all(not grandchild.children for child in root.children for grandchild in child.children)


def _flatten(root: TableNode) -> list[TableNode]:
    """The nodes below the root in preorder (each child, then its leaf children)."""
    nodes: list[TableNode] = []
    for child in root.children:
        nodes.append(child)
        nodes.extend(child.children)
    return nodes


def _rename_matrix(a: list[TableNode], b: list[TableNode]) -> list[list[float]]:
    if any(n.content for n in a) or any(n.content for n in b):
        costs = cdist(
            [n.content for n in a],
            [n.content for n in b],
            scorer=Levenshtein.normalized_distance,
            dtype="float64",
            workers=1,
        ).tolist()
    else:
        costs = [[0.0] * len(b) for _ in a]
    for i, x in enumerate(a):
        row = costs[i]
        for j, y in enumerate(b):
            if x.tag != y.tag or x.colspan != y.colspan or x.rowspan != y.rowspan:
                row[j] = 1.0
            elif x.tag != "td" or not (x.content or y.content):
                row[j] = 0.0
    return costs


def _states(root: TableNode, index: dict[int, int]) -> list[tuple[int, int, int]]:
    """The forest's DP states, each as (item node index, state after deleting the item's
    root, state before the whole item); state 0 is the empty forest.

    A state is "children 1..k of the root intact, then the first p children of child k+1
    as loose leaves" (child k+1's own node deleted): the forests the Zhang-Shasha recurrence
    meets when the right-most tree is removed, its root deleted or its right-most leaf used.
    """
    states: list[tuple[int, int, int]] = [(-1, -1, -1)]
    intact = 0  # the state "children 1..k intact", for the current k
    for child in root.children:
        for leaf in child.children:
            states.append((index[id(leaf)], len(states) - 1, len(states) - 1))
        loose_all = len(states) - 1  # child's root deleted, all its leaves loose
        states.append((index[id(child)], loose_all, intact))
        intact = len(states) - 1
    return states


def _shallow_distance(t1: TableNode, t2: TableNode) -> float:
    """Exact tree edit distance for two roots with equal labels whose children have only
    leaf children (the Zhang-Shasha forest recurrence on that shape; module docstring)."""
    nodes_a, nodes_b = _flatten(t1), _flatten(t2)
    index_a = {id(n): i for i, n in enumerate(nodes_a)}
    index_b = {id(n): i for i, n in enumerate(nodes_b)}
    rename = _rename_matrix(nodes_a, nodes_b)
    kids_a = [[index_a[id(c)] for c in n.children] for n in nodes_a]
    kids_b = [[index_b[id(c)] for c in n.children] for n in nodes_b]
    # the order of states puts every state after the ones it refers to, so one pass fills it
    states_a, states_b = _states(t1, index_a), _states(t2, index_b)
    memo: dict[tuple[int, int], float] = {}

    def item_distance(i: int, j: int) -> float:
        """Distance of the subtree at node i (of t1) to the subtree at node j (of t2)."""
        key = (i, j)
        found = memo.get(key)
        if found is not None:
            return found
        ka, kb = kids_a[i], kids_b[j]
        if not ka or not kb:
            value = rename[i][j] + len(ka) + len(kb)
        else:
            previous = list(range(len(kb) + 1))
            for x in ka:
                costs = rename[x]
                current = [previous[0] + 1]
                for col, y in enumerate(kb, start=1):
                    current.append(
                        min(previous[col] + 1, current[col - 1] + 1, previous[col - 1] + costs[y])
                    )
                previous = current
            value = rename[i][j] + previous[-1]
        memo[key] = value
        return value

    width = len(states_b)
    table: list[list[float]] = []
    first = [0.0] * width
    for s in range(1, width):
        first[s] = first[states_b[s][1]] + 1
    table.append(first)
    for sa in range(1, len(states_a)):
        item_a, deleted_a, before_a = states_a[sa]
        row = [table[deleted_a][0] + 1] + [0.0] * (width - 1)
        above_deleted, above_before = table[deleted_a], table[before_a]
        for sb in range(1, width):
            item_b, deleted_b, before_b = states_b[sb]
            row[sb] = min(
                above_deleted[sb] + 1,
                row[deleted_b] + 1,
                above_before[before_b] + item_distance(item_a, item_b),
            )
        table.append(row)
    return table[-1][-1]


def tree_edit_distance(t1: TableNode, t2: TableNode) -> float:
    """The unit-cost tree edit distance with TEDS's rename cost (module docstring)."""
    if t1.signature() == t2.signature():
        return 0.0
    if t1.tag == t2.tag == "table" and _is_shallow(t1) and _is_shallow(t2):
        return _shallow_distance(t1, t2)
    return float(APTED(t1, t2, _AptedConfig()).compute_edit_distance())


def table_scores(prediction: str, reference: str) -> tuple[float, float]:
    """``(TEDS, TEDS-S)`` of a predicted HTML table against the reference table."""
    if not prediction or not reference:
        return 0.0, 0.0
    try:
        pred, true = parse_table(prediction), parse_table(reference)
    except TableError:
        return 0.0, 0.0
    if pred is None or true is None:
        return 0.0, 0.0
    nodes = max(pred.nodes, true.nodes)
    if nodes == 0:
        return 0.0, 0.0
    full = 1.0 - tree_edit_distance(pred.full, true.full) / nodes
    structure = 1.0 - tree_edit_distance(pred.structure, true.structure) / nodes
    return full, structure
