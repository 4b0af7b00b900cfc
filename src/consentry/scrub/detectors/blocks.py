"""Runs of four-digit blocks, which cards and tracking numbers are printed in.

``9400 1000 0000 0612 3456 78`` is one number: a phone or a card found in a piece of it is a
false positive, so the detectors that try windows of a run's groups never cut it between two
blocks.
"""

from __future__ import annotations

from collections.abc import Sequence


def joins_blocks(text: str, groups: Sequence[tuple[int, int]], i: int) -> bool:
    """Groups ``i`` and ``i + 1`` of ``text`` are four-digit blocks one separator apart, and
    the run goes on with that same separator around them: no number of its own begins or
    ends between them. ("2024 5513-2570-0614-1076" is a year, then a card: the blocks of
    one number share their separator.)"""
    if i < 0 or i + 1 >= len(groups):
        return False
    (a, b), (c, d) = groups[i], groups[i + 1]
    if not (b - a == 4 == d - c and c - b == 1 and text[a:b].isdigit() and text[c:d].isdigit()):
        return False
    sep = text[b]
    if i > 0 and groups[i - 1][1] == a - 1 and text[a - 1] != sep:
        return False
    return not (i + 2 < len(groups) and groups[i + 2][0] == d + 1 and text[d] != sep)
