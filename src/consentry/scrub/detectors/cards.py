"""Payment card numbers: 12–19 digits, optionally grouped by single spaces or hyphens.

A candidate is a card when its digits pass the Luhn check *and* start like a card of a known
network with a length that network issues: a random 16-digit number passes Luhn one time in
ten, so the issuer ranges are what keep order numbers and ids out. Both are checked for every
candidate of a batch at once, in numpy (number-rich text has a candidate or two a post).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.scrub.detectors.blocks import joins_blocks
from consentry.scrub.found import Int64s
from consentry.scrub.registry import RegexDetector

#: (lowest prefix, highest prefix, allowed lengths): Visa, Mastercard, Amex, Discover, JCB
#: (with its old 15-digit 1800 and 2131), Diners, UnionPay, Maestro (12 digits and up).
#: Prefixes compare as integers of the same number of digits. Only Visa issues 13 digits:
#: a 13-digit run from another range is an EAN-13 barcode far more often than a card.
_MAESTRO: Final = frozenset({12, *range(14, 20)})
_NETWORKS: Final = (
    ("4", "4", frozenset({13, 16, 19})),
    ("1800", "1800", frozenset({15})),
    ("2131", "2131", frozenset({15})),
    ("51", "55", frozenset({16})),
    ("2221", "2720", frozenset({16})),
    ("34", "34", frozenset({15})),
    ("37", "37", frozenset({15})),
    ("6011", "6011", frozenset(range(16, 20))),
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("35", "35", frozenset(range(16, 20))),
    ("300", "305", frozenset(range(14, 20))),
    ("36", "36", frozenset(range(14, 20))),
    ("38", "39", frozenset(range(14, 20))),
    ("62", "62", frozenset(range(16, 20))),
    ("50", "50", _MAESTRO),
    ("56", "59", _MAESTRO),
    ("60", "69", _MAESTRO),
)


_GROUP: Final = re.compile(r"\d+")
_MIN_DIGITS: Final = 12
_MAX_DIGITS: Final = 19


def _issued_table() -> npt.NDArray[np.bool_]:
    """``[length, first four digits]``: a card of some network could have those. Networks
    are told apart by at most four leading digits, so this is the whole of the ranges."""
    first4 = np.arange(10_000)
    table = np.zeros((_MAX_DIGITS + 1, 10_000), dtype=np.bool_)
    for low, high, lengths in _NETWORKS:
        prefix = first4 // 10 ** (4 - len(low))
        fits = (prefix >= int(low)) & (prefix <= int(high))
        for length in lengths:
            table[length] |= fits
    return table


_ISSUED: Final = _issued_table()
_DOUBLED: Final = np.array(
    [0, 2, 4, 6, 8, 1, 3, 5, 7, 9], dtype=np.int64
)  # Luhn's 2d, digits summed


def looks_issued(digits: str) -> bool:
    """Starts like a card of a known network, at a length that network issues."""
    length = len(digits)
    if not _MIN_DIGITS <= length <= _MAX_DIGITS or not (digits.isascii() and digits.isdigit()):
        return False
    return bool(_ISSUED[length, int(digits[:4])])


@functools.lru_cache(maxsize=256)
def _windows(shape: str) -> tuple[Int64s, Int64s]:
    """Where to look for the card in a candidate laid out like ``shape`` (its digits as
    ``0``), in order: the whole candidate, then the longest run of its groups from each
    group on (a number just before it, "score 3-1 4111 1111 1111 1111", makes the candidate
    start too early). Runs never cut between two four-digit blocks. Layouts repeat across a
    platform (dozens for thousands of candidates), hence the cache."""
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(shape)]
    before = [0]  # digits in the groups before each one
    for start, end in groups:
        before.append(before[-1] + end - start)
    out = [(0, len(shape))]
    for i in range(len(groups)):
        if joins_blocks(shape, groups, i - 1):
            continue
        for j in range(len(groups) - 1, i - 1, -1):
            digits = before[j + 1] - before[i]
            if digits < _MIN_DIGITS:
                break
            if digits > _MAX_DIGITS or joins_blocks(shape, groups, j):
                continue
            out.append((groups[i][0], groups[j][1]))
    starts, ends = zip(*out, strict=True)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def validate_cards(values: pa.StringArray) -> tuple[Int64s, Int64s, Int64s]:
    """The card in each candidate: the first of its windows (``_windows``) whose digits pass
    the Luhn check and look issued. All in numpy over the candidates' bytes (they are ASCII:
    digits, spaces and hyphens), with prefix sums for each window's digit count and Luhn sum.
    """
    n = len(values)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z, z
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset : values.offset + n + 1
    ]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    rebased = offsets - offsets[0]
    is_digit = (data >= 48) & (data <= 57)
    shape_bytes = np.where(is_digit, np.uint8(48), data)
    shapes = pc.dictionary_encode(
        pa.StringArray.from_buffers(n, pa.py_buffer(rebased), pa.py_buffer(shape_bytes))
    )
    layout = [_windows(shape) for shape in shapes.dictionary.to_pylist()]
    shape_of = shapes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    # Every candidate's windows, flat: ``cand`` is the candidate, ``k`` the window's rank.
    counts = np.array([len(w[0]) for w in layout], dtype=np.int64)
    table_at = np.r_[0, np.cumsum(counts)[:-1]]
    all_starts = np.concatenate([w[0] for w in layout])
    all_ends = np.concatenate([w[1] for w in layout])
    per_cand = counts[shape_of]
    cand = np.repeat(np.arange(n, dtype=np.int64), per_cand)
    k = np.arange(len(cand), dtype=np.int64) - np.repeat(np.cumsum(per_cand) - per_cand, per_cand)
    slot = table_at[shape_of[cand]] + k
    w_start, w_end = all_starts[slot], all_ends[slot]
    # A digit's ordinal counts the digits before it, all candidates together: a window's
    # digits are the ordinals [first, stop).
    value = np.where(is_digit, data.astype(np.int64) - 48, 0)
    ordinal = np.r_[0, np.cumsum(is_digit)]
    digits = value[is_digit]
    parity = np.arange(len(digits)) & 1
    # Prefix sums over digits: plain and doubled values, on even and odd ordinals.
    sums = np.zeros((4, len(digits) + 1), dtype=np.int64)
    for row, (vals, par) in enumerate(
        ((digits, 0), (digits, 1), (_DOUBLED[digits], 0), (_DOUBLED[digits], 1))
    ):
        np.cumsum(np.where(parity == par, vals, 0), out=sums[row, 1:])
    base = rebased[:-1].astype(np.int64)[cand]
    first = ordinal[base + w_start]
    stop = ordinal[base + w_end]  # one past the last digit
    length = stop - first
    # Luhn doubles every second digit from the right: the ordinals of the other parity than
    # the last digit's.
    last_par = (stop - 1) & 1
    plain_sum = np.where(
        last_par == 0, sums[0, stop] - sums[0, first], sums[1, stop] - sums[1, first]
    )
    doubled_sum = np.where(
        last_par == 0, sums[3, stop] - sums[3, first], sums[2, stop] - sums[2, first]
    )
    luhn_ok = (plain_sum + doubled_sum) % 10 == 0
    ok_len = (length >= _MIN_DIGITS) & (length <= _MAX_DIGITS)
    safe = np.where(ok_len, first, 0)
    lead = digits[safe] * 1000 + digits[safe + 1] * 100 + digits[safe + 2] * 10 + digits[safe + 3]
    issued = ok_len & _ISSUED[np.where(ok_len, length, 0), lead]
    hit = np.flatnonzero(issued & luhn_ok)
    winners, at = np.unique(cand[hit], return_index=True)
    chosen = hit[at]
    return winners.astype(np.int64), w_start[chosen], w_end[chosen]


def validate_card(candidate: str) -> Sequence[tuple[int, int]]:
    """The card in one candidate (see ``validate_cards``)."""
    _, starts, ends = validate_cards(pa.array([candidate], pa.string()))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


CARDS: Final = RegexDetector(
    name="card",
    type="card",
    prefilter="\\d(?:[ \\-]?\\d){11}",
    before="^|[^A-Za-z0-9_.,/\\-+]",
    body="\\d(?:[ \\-]?\\d){11,}",  # unbounded: the validator finds the card in a longer run
    reject_after="^(?:[A-Za-z0-9_]|[.,/\\-]\\d)",
    validate_batch=validate_cards,
)
