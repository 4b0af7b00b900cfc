"""Runs of four-digit blocks, which cards and tracking numbers are printed in.

``9400 1000 0000 0612 3456 78`` is one number: a phone or a card found in a piece of it is a
false positive, so the detectors that try windows of a run's groups never cut it between two
blocks.
"""

from __future__ import annotations

from collections.abc import Sequence


def joins_blocks(text: str, groups: Sequence[tuple[int, int]], i: int) -> bool:
    """Groups ``i`` and ``i + 1`` of ``text`` are four-digit blocks one separator apart: no
    number of its own begins or ends between them."""
    if i < 0 or i + 1 >= len(groups):
        return False
    (a, b), (c, d) = groups[i], groups[i + 1]
    return b - a == 4 == d - c and c - b == 1 and text[a:b].isdigit() and text[c:d].isdigit()
