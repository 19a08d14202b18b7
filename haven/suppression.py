"""Cell suppression for published counts (statistical disclosure control).

A table of counts is published with its row totals, column totals and grand total.
Every entry under the threshold ``k`` is suppressed (primary suppression). Then, so
that no suppressed entry can be worked out from the published ones, more entries are
suppressed (complementary suppression).

Why this is enough against exact recovery: write the table with its totals as an
(n+1) x (m+1) grid, the last row and column being the totals. Each row and each column
is one equation (its entries add up to its total), and each entry sits in exactly two
of them, so the equations are those of a graph: one node per row and per column, one
edge per entry. The suppressed entries are the unknowns, and an unknown is fixed by
the published entries exactly when its edge is a bridge of the graph of suppressed
entries, that is, on no cycle. Counts are never negative, which pins more: a hidden 3
on a cycle whose other entries are 0 is a 3. But on a cycle of entries that are all
positive, every entry can move by one either way and the sums still hold. So: while a
suppressed positive entry is on no cycle of suppressed positive entries, suppress the
cheapest (positive) entries that close a rectangle through it. Zeros are suppressed
when under ``k`` like any count, and may be inferred: a zero says nobody. Fixed entries (totals that
other tables publish too) are suppressed only when nothing else closes the rectangle,
so that one table cannot give back what another hid.

Pure Python and deterministic: the same counts give the same pattern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Entry = tuple[int, int]
FIXED_COST = 10**12
ZERO_COST = 10**15


@dataclass(frozen=True)
class Suppressed:
    """The grid with its totals (``grid[i][j]``, the last row and column the totals)
    and the set of suppressed entries."""

    grid: list[list[int]]
    hidden: frozenset[Entry]

    def shown(self, i: int, j: int) -> int | None:
        return None if (i, j) in self.hidden else self.grid[i][j]


def with_totals(cells: Sequence[Sequence[int]]) -> list[list[int]]:
    """The cells with a total at the end of each row, and a last row of column totals."""
    rows = [[*row, sum(row)] for row in cells]
    width = len(rows[0]) if rows else 1
    rows.append([sum(row[j] for row in rows) for j in range(width)])
    return rows


def suppress(
    cells: Sequence[Sequence[int]],
    k: int,
    *,
    fixed: Iterable[Entry] = (),
    hide: Iterable[Entry] = (),
) -> Suppressed:
    """Suppress every entry under ``k``, and those in ``hide`` (hidden by another
    table that publishes them too), and enough others that none can be recovered from
    the rest. ``fixed`` entries (of the grid with totals) are avoided as complements.
    ``cells`` has at least one row and one column."""
    grid = with_totals(cells)
    fixed_set = set(fixed)
    hidden = {(i, j) for i, row in enumerate(grid) for j, value in enumerate(row) if value < k}
    hidden |= set(hide)
    stuck: set[Entry] = set()
    while True:
        positive = {(i, j) for i, j in hidden if grid[i][j] > 0}
        bridge = next(iter(sorted(_bridges(positive) - stuck)), None)
        if bridge is None:
            return Suppressed(grid, frozenset(hidden))
        more = _close(grid, hidden, fixed_set, bridge)
        if more <= hidden:
            stuck.add(bridge)  # cannot happen with totals in the grid; never loop
        hidden |= more


def _cost(grid: list[list[int]], hidden: set[Entry], fixed: set[Entry], entry: Entry) -> int:
    if grid[entry[0]][entry[1]] == 0:
        return ZERO_COST  # a zero cannot move, so it closes no useful rectangle
    if entry in hidden:
        return 0
    return FIXED_COST if entry in fixed else grid[entry[0]][entry[1]] + 1


def _close(
    grid: list[list[int]], hidden: set[Entry], fixed: set[Entry], bridge: Entry
) -> set[Entry]:
    """The cheapest entries that put ``bridge`` on a rectangle of suppressed entries."""
    i, j = bridge
    best: tuple[int, Entry] | None = None
    for i2 in range(len(grid)):
        if i2 == i:
            continue
        for j2 in range(len(grid[0])):
            if j2 == j:
                continue
            cost = sum(_cost(grid, hidden, fixed, e) for e in ((i, j2), (i2, j), (i2, j2)))
            if best is None or cost < best[0]:
                best = (cost, (i2, j2))
    assert best is not None  # noqa: S101  (the grid has its totals: 2 x 2 at least)
    i2, j2 = best[1]
    return {(i, j2), (i2, j), (i2, j2)}


def _bridges(hidden: set[Entry]) -> set[Entry]:
    """The suppressed entries that are on no cycle of the row-column graph."""
    adjacency: dict[tuple[str, int], list[tuple[tuple[str, int], Entry]]] = {}
    for i, j in hidden:
        adjacency.setdefault(("r", i), []).append((("c", j), (i, j)))
        adjacency.setdefault(("c", j), []).append((("r", i), (i, j)))
    found: set[Entry] = set()
    for entry in hidden:
        start, goal = ("r", entry[0]), ("c", entry[1])
        seen = {start}
        frontier = [start]
        while frontier and goal not in seen:
            node = frontier.pop()
            for nxt, via in adjacency[node]:
                if via != entry and nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        if goal not in seen:
            found.add(entry)
    return found
