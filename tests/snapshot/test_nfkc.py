"""The NFKC gate: no text NFKC can change may pass it unnoticed."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.snapshot.nfkc import NFKC_CHANGEABLE, ranges


def _flagged() -> set[int]:
    """What the gate must hold, derived from this Python's Unicode data (see the module)."""
    second: set[int] = set()
    for cp in range(0x110000):
        mapping = unicodedata.decomposition(chr(cp))
        if mapping:
            parts = [p for p in mapping.split() if not p.startswith("<")]
            second.update(int(p, 16) for p in parts[1:])
    out: set[int] = set()
    for cp in range(0x80, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if (
            unicodedata.category(c) == "Cn"
            or unicodedata.combining(c)
            or cp in second
            or 0x1100 <= cp <= 0x11FF
            or unicodedata.normalize("NFKC", c) != c
        ):
            out.add(cp)
    return out


def _in_class() -> np.ndarray:
    inside = np.zeros(0x110000, dtype=np.bool_)
    for start, end in ranges():
        inside[start : end + 1] = True
    return inside


def test_the_class_covers_every_character_nfkc_can_change() -> None:
    inside = _in_class()
    missing = [cp for cp in _flagged() if not inside[cp]]
    assert missing == [], [f"{cp:X}" for cp in missing[:20]]


def test_arrow_leaves_every_character_outside_the_class_as_it_is() -> None:
    """Alone and after a letter it could compose with: Arrow's own NFKC agrees."""
    inside = _in_class()
    outside = [chr(cp) for cp in range(0x110000) if not inside[cp] and not 0xD800 <= cp <= 0xDFFF]
    alone = pa.array(outside, pa.string())
    assert not pc.any(pc.match_substring_regex(alone, NFKC_CHANGEABLE)).as_py()
    for prefix in ("", "e", "\u1100"):
        texts = pa.array([prefix + c for c in outside], pa.string())
        assert pc.all(pc.equal(pc.utf8_normalize(texts, "NFKC"), texts)).as_py()


def test_the_regex_finds_what_the_ranges_hold() -> None:
    texts = pa.array(["plain ascii", "caf\u00e9", "\ufb01n", "e\u0301", "\U000e0001x"])
    found = pc.match_substring_regex(texts, NFKC_CHANGEABLE).to_pylist()
    assert found == [False, False, True, True, False]
