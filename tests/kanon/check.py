"""Run in .venv-kanon (pycanon and scipy), never imported by the suite: reads a release
as JSON on stdin, answers JSON on stdout.

- ``k``: pycanon's k-anonymity of the published records (one per case counted in a
  published cell, its quasi-identifiers the row value and the month);
- ``bounds``: for each table, the least and greatest value each suppressed entry can
  take given every published entry, the row and column sums and counts >= 0 (linear
  programming; the sums form a network matrix, so the bounds are whole numbers and
  are those an attacker with integer reasoning gets too).
"""

from __future__ import annotations

import json
import sys

import pandas as pd
from pycanon import anonymity
from scipy.optimize import linprog


def bounds(grid: list[list[int]], hidden: list[list[int]]) -> list[list[float]]:
    unknown = [tuple(e) for e in hidden]
    index = {e: t for t, e in enumerate(unknown)}
    rows, cols = len(grid), len(grid[0])
    a_eq, b_eq = [], []
    lines = [[(i, j) for j in range(cols)] for i in range(rows)]
    lines += [[(i, j) for i in range(rows)] for j in range(cols)]
    for line in lines:
        coeffs = [0.0] * len(unknown)
        rhs = 0.0
        for position, (i, j) in enumerate(line):
            sign = -1.0 if position == len(line) - 1 else 1.0  # the last is the total
            if (i, j) in index:
                coeffs[index[(i, j)]] += sign
            else:
                rhs -= sign * grid[i][j]
        if any(coeffs):
            a_eq.append(coeffs)
            b_eq.append(rhs)
    found = []
    for t in range(len(unknown)):
        c = [0.0] * len(unknown)
        c[t] = 1.0
        low = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        c[t] = -1.0
        high = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        top = float("inf") if high.status == 3 else -high.fun
        found.append([round(low.fun, 6), top])
    return found


def main() -> None:
    release = json.load(sys.stdin)
    answer: dict[str, object] = {"k": None}
    records = release.get("records") or []
    if records:
        frame = pd.DataFrame(records)
        answer["k"] = int(anonymity.k_anonymity(frame, ["value", "month"]))
    answer["bounds"] = [bounds(t["grid"], t["hidden"]) for t in release.get("tables", [])]
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
