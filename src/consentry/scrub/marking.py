"""Find every match of an RE2 pattern in a string array, with offsets, in a few Arrow kernels.

``pyarrow.compute`` has no "all matches with positions" kernel (``extract_regex`` gives the
first match only). So we *mark and split*: ``replace_substring_regex`` wraps every match in a
sentinel character, ``split_pattern`` cuts there, and in each row's list of pieces the odd
ones are the matches. Summing piece lengths (code points and bytes) gives the offsets. All of it
runs in C++ over the whole array; Python never sees a row.

RE2 has no lookbehind, so a pattern says what must *precede* a match with a first capture
group that consumes that character (``(^|[^A-Za-z0-9_])``): the replacement writes it back
before the opening sentinel. What must *follow* a match (a lookahead) is checked afterwards on
the ``after`` text this module returns.

The sentinel is a Unicode noncharacter (U+FDD0..U+FDEF, "reserved for internal use"), chosen
so that it does not occur in the rows at hand. Rows containing all 32 have their noncharacters
replaced by U+FFFD first (same length in code points and bytes, so offsets hold).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry.scrub.found import concat_columns
from consentry.string_bytes import StringBytes

Int64s = npt.NDArray[np.int64]

SENTINELS: Final = tuple(chr(c) for c in range(0xFDD0, 0xFDF0))
NONCHARACTER_CLASS: Final = "[\ufdd0-\ufdef]"
AFTER_CHARS: Final = 4  # how much following text lookahead checks get
#: A typed scalar: a Python ``""`` passed to a kernel goes through pyarrow's type inference,
#: which tries to import ``dateutil`` on every call, and searches the path again each time
#: it is not installed (~0.2 ms a call).
_EMPTY: Final = pa.scalar("", pa.string())


@dataclass(frozen=True, slots=True)
class Matches:
    rows: Int64s  # index into the array searched
    start: Int64s  # code points
    end: Int64s
    bstart: Int64s  # UTF-8 bytes
    bend: Int64s
    values: pa.StringArray
    after: pa.StringArray  # up to AFTER_CHARS code points that follow the match

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, keep: npt.NDArray[np.bool_]) -> Matches:
        idx = pa.array(np.flatnonzero(keep), pa.int64())
        return Matches(
            self.rows[keep],
            self.start[keep],
            self.end[keep],
            self.bstart[keep],
            self.bend[keep],
            self.values.take(idx),
            self.after.take(idx),
        )


def _empty() -> Matches:
    z = np.zeros(0, dtype=np.int64)
    e = pa.array([], pa.string())
    return Matches(z, z, z, z, z, e, e)


def _concat(parts: list[Matches]) -> Matches:
    parts = [p for p in parts if len(p)]
    return concat_columns(parts) if parts else _empty()


#: A ``before`` that ``find_body`` takes: empty, or the start of the text or one character.
_ONE_CHARACTER_BEFORE: Final = re.compile(r"\^\|\[[^\[\]]*\]")


@dataclass(frozen=True, slots=True)
class _Marking:
    """How matches are marked: ``pattern`` and its ``rewrite``, and, for a whole-match
    marking whose matches may begin with the character that precedes the body, the anchored
    body that tells a match at a row's start which it did."""

    pattern: str
    rewrite: str
    body_at_start: str | None = None


def find_all(texts: pa.Array, pattern: str) -> Matches:
    """Every non-overlapping match of ``pattern`` (RE2, leftmost-first, like ``re.finditer``).

    ``pattern`` must have exactly two capturing groups: what precedes the match (may match
    empty, e.g. ``^``) and the match itself. Other groups must be non-capturing.
    """
    return find_marked(texts, _Marking(pattern, "\\1{s}\\2{s}"))


def takes_body(before: str) -> bool:
    """Whether ``find_body`` takes this ``before``."""
    return before == "" or _ONE_CHARACTER_BEFORE.fullmatch(before) is not None


def find_body(texts: pa.Array, body: str, before: str) -> Matches:
    """What ``find_all(texts, f"({before})({body})")`` finds, for a ``before`` that is empty
    or ``^|[…]`` (the start of the text, or one character: ``takes_body``), without capture
    groups: RE2 finds a match with its DFA alone, where groups take a second, slower engine
    over each match (half the phone detector's kernel). The match then holds the character
    before the body, if any, which is cut off: every match but one at a row's start has one
    (``^`` matches nowhere else), and one there has none exactly when the body matches at
    the row's start (leftmost-first: the first alternative, ``^``, wins when it can)."""
    if before == "":
        return find_marked(texts, _Marking(body, "{s}\\0{s}"))
    if not takes_body(before):
        raise ValueError(f"find_body takes no before {before!r}: use find_all")
    return find_marked(
        texts, _Marking(f"(?:{before})(?:{body})", "{s}\\0{s}", body_at_start=f"^(?:{body})")
    )


def find_marked(texts: pa.Array, marking: _Marking) -> Matches:
    return _find(texts, marking, np.arange(len(texts), dtype=np.int64), 0)


def _find(texts: pa.Array, pattern: _Marking, row_ids: Int64s, sentinel_no: int) -> Matches:
    if len(texts) == 0:
        return _empty()
    if sentinel_no == len(SENTINELS):
        texts = pc.replace_substring_regex(texts, NONCHARACTER_CLASS, "\ufffd")
        sentinel_no = 0
    sentinel = SENTINELS[sentinel_no]
    if not _may_hold(texts, sentinel):
        return _mark_and_split(texts, pattern, row_ids, sentinel)
    clash = pc.fill_null(pc.match_substring(texts, sentinel), False)
    if pc.any(clash).as_py():
        clash_np = clash.to_numpy(zero_copy_only=False)
        fine = _find(texts.filter(pc.invert(clash)), pattern, row_ids[~clash_np], sentinel_no)
        other = _find(texts.filter(clash), pattern, row_ids[clash_np], sentinel_no + 1)
        return _concat([fine, other])
    return _mark_and_split(texts, pattern, row_ids, sentinel)


def _may_hold(texts: pa.Array, sentinel: str) -> bool:
    """Whether the bytes of ``texts`` may hold ``sentinel``: a numpy scan of the data buffer
    (tens of µs), for the Arrow kernel that tells which rows do only when one may."""
    if not pa.types.is_string(texts.type):
        return True
    data = StringBytes.of(texts).data
    lead, second, third = sentinel.encode("utf-8")
    at = np.flatnonzero(data[:-2] == lead)
    return bool(np.any((data[at + 1] == second) & (data[at + 2] == third)))


def _lengths(pieces: pa.StringArray) -> tuple[Int64s, Int64s]:
    """Code points and bytes of each piece, from the offsets and the data buffer: a code
    point is a UTF-8 byte other than a continuation byte (``10xxxxxx``). A third of the
    kernel's time, ``utf8_length`` on ~15k pieces took a millisecond."""
    piece_bytes = StringBytes.of(pieces)
    data, rebased = piece_bytes.data, piece_bytes.offsets
    nb = np.diff(rebased)
    # The continuation bytes' positions, searched for each piece's bounds: a running count
    # over every byte needs a fresh int64 array 8× the text, whose page faults alone cost
    # milliseconds a call.
    high = np.flatnonzero(data >= 0x80)
    if len(high) == 0:
        return nb, nb
    continuation = high[(data[high] & 0xC0) == 0x80]
    inside = np.searchsorted(continuation, rebased)
    return nb - np.diff(inside), nb


def _mark_and_split(texts: pa.Array, marking: _Marking, row_ids: Int64s, sentinel: str) -> Matches:
    rewrite = marking.rewrite.format(s=sentinel)
    marked = pc.replace_substring_regex(texts, marking.pattern, rewrite)
    pieces = pc.split_pattern(marked, sentinel)
    flat = pieces.flatten()
    n = len(flat)
    if n == 0:
        return _empty()
    parents = pc.list_parent_indices(pieces).to_numpy().astype(np.int64, copy=False)
    # Position of each piece within its row: flat index minus the index of the row's first piece.
    first = np.flatnonzero(np.r_[True, parents[1:] != parents[:-1]])
    counts = np.diff(np.r_[first, n])
    first_of_piece = np.repeat(first, counts)
    position = np.arange(n, dtype=np.int64) - first_of_piece
    is_match = (position & 1) == 1
    if not is_match.any():
        return _empty()
    cp, nb = _lengths(flat)
    # Offsets: exclusive running sums, restarted at each row's first piece.
    cp_cum = np.cumsum(cp) - cp
    nb_cum = np.cumsum(nb) - nb
    cp_start = cp_cum - cp_cum[first_of_piece]
    nb_start = nb_cum - nb_cum[first_of_piece]
    idx = np.flatnonzero(is_match)
    # A match is always followed by a piece (possibly empty): a row splits into 2k+1 pieces.
    # Lookahead checks want the text that follows; when that piece is shorter than they need,
    # the next match (if any, in the same row) follows it directly.
    nxt = idx + 1
    nxt2 = idx + 2
    same_row = (nxt2 < n) & (parents[np.minimum(nxt2, n - 1)] == parents[idx])
    after_piece = flat.take(pa.array(nxt, pa.int64()))
    after_more = flat.take(pa.array(np.where(same_row, nxt2, nxt), pa.int64()))
    after_more = pc.if_else(pa.array(same_row), after_more, _EMPTY)
    after = pc.utf8_slice_codeunits(
        pc.binary_join_element_wise(after_piece, after_more, _EMPTY), 0, AFTER_CHARS
    )
    start = cp_start[idx]
    bstart = nb_start[idx]
    end = start + cp[idx]
    bend = bstart + nb[idx]
    values = flat.take(pa.array(idx, pa.int64()))
    if marking.body_at_start is not None:
        start, bstart, values = _cut_before(marking.body_at_start, start, bstart, values)
    return Matches(
        rows=row_ids[parents[idx]],
        start=start,
        end=end,
        bstart=bstart,
        bend=bend,
        values=values,
        after=after,
    )


def _cut_before(
    body_at_start: str, start: Int64s, bstart: Int64s, values: pa.StringArray
) -> tuple[Int64s, Int64s, pa.StringArray]:
    """Whole matches without the character before the body (see ``find_body``)."""
    has_before = np.ones(len(start), dtype=np.bool_)
    at_start = np.flatnonzero(start == 0)
    if len(at_start):
        first = values.take(pa.array(at_start, pa.int64()))
        body_first = pc.match_substring_regex(first, body_at_start)
        has_before[at_start] = ~body_first.to_numpy(zero_copy_only=False)
    # The first character's UTF-8 length, from its lead byte.
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    offsets = offsets[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    lead = data[offsets[:-1]]
    width = 1 + (lead >= 0xC0) + (lead >= 0xE0) + (lead >= 0xF0)
    cut = np.where(has_before, width, 0).astype(np.int64)
    sliced = pc.utf8_slice_codeunits(values, 1)
    cut_values = pc.if_else(pa.array(has_before), sliced, values)
    return start + has_before, bstart + cut, cut_values
