"""Scrub a column of texts: find PII with the detectors, replace it, say what was replaced.

The path of a batch:

1. one RE2 scan with every detector's prefilter combined: rows it does not fire on (most
   posts) are done, untouched;
2. each detector runs on the rows its own prefilter fires on, and returns spans;
3. overlapping spans are settled (leftmost, then longest, then registry order);
4. spans of replaced types get their placeholder, or for platform handles ``@`` + the
   account's pseudonym, and are spliced in with numpy over the UTF-8 bytes;
5. ``pii`` lists, per row, the types replaced (in ``PII_TYPES`` order, each once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.scrub.detectors import BUILTIN, SCRUBBING
from consentry.scrub.found import Found, concat, settle_overlaps
from consentry.scrub.registry import Detector, needs
from consentry.scrub.resolver import Mentions
from consentry.scrub.splice import splice
from consentry.scrub.types import KEPT_TYPES, PII_TYPES, PLACEHOLDERS, TYPE_CODE, Span
from consentry.string_bytes import StringBytes, as_strings

ArrayLike: TypeAlias = pa.Array | pa.ChunkedArray

_PRIORITY_OF_TYPE = np.arange(len(PII_TYPES), dtype=np.int64)
_KEPT_CODES = np.array(sorted(TYPE_CODE[t] for t in KEPT_TYPES), dtype=np.int8)
_PLACEHOLDER_BY_CODE = pa.array([PLACEHOLDERS.get(t, "") for t in PII_TYPES], pa.string())
_TYPE_NAMES = pa.array(list(PII_TYPES), pa.string())
_AT = pa.scalar("@", pa.string())
_NO_SEPARATOR = pa.scalar("", pa.string())
_HANDLE_PLACEHOLDER = pa.scalar(PLACEHOLDERS["handle"], pa.string())
REPLACED_TYPES: tuple[str, ...] = tuple(t for t in PII_TYPES if t not in KEPT_TYPES)


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """``text``: scrubbed, same length and order, nulls kept. ``pii``: list<string> per row
    (never null). ``counts``: replacements per type, every replaced type present."""

    text: ArrayLike
    pii: ArrayLike
    counts: dict[str, int] = field(default_factory=dict)


def _priority(detectors: Sequence[Detector]) -> np.ndarray:
    """Rank of each type code by the first detector of that type: lower wins ties."""
    rank = np.full(len(PII_TYPES), len(PII_TYPES), dtype=np.int64)
    for i, d in enumerate(detectors):
        code = TYPE_CODE[d.type]
        rank[code] = min(rank[code], i)
    return rank


def detect(texts: pa.Array, detectors: Sequence[Detector] | None = None) -> Found:
    """Settled spans in one array of texts, sorted by row and start. ``detectors`` default:
    every built-in one, kept types included."""
    dets = list(BUILTIN) if detectors is None else list(detectors)
    arr = as_strings(texts)
    if len(arr) == 0 or not dets:
        return Found.empty()
    gate_pattern = "|".join(f"(?:{d.prefilter})" for d in dets)
    gate = pc.fill_null(pc.match_substring_regex(arr, gate_pattern), False)
    gate_rows = np.flatnonzero(gate.to_numpy(zero_copy_only=False))
    if len(gate_rows) == 0:
        return Found.empty()
    sub = arr.take(pa.array(gate_rows, pa.int64()))
    holding = _RowsHolding(sub)
    parts: list[Found] = []
    for d in dets:
        own_rows = holding.rows_matching(d.prefilter, needs(d))
        if len(own_rows) == 0:
            continue
        found = d.find(sub.take(pa.array(own_rows, pa.int64())))
        parts.append(found.remap_rows(gate_rows[own_rows]))
    found = concat(parts)
    kept = np.isin(found.kind, _KEPT_CODES)
    if not kept.any():
        return settle_overlaps(found, _priority(dets))
    # Kept spans (hashtags, cashtags) never hide a replaced one: settle the replaced first,
    # then keep only the kept spans clear of them.
    replaced = settle_overlaps(found.take(~kept), _priority(dets))
    others = settle_overlaps(found.take(kept), _priority(dets))
    taken: dict[int, list[tuple[int, int]]] = {}
    for row, start, end in zip(
        replaced.rows.tolist(), replaced.start.tolist(), replaced.end.tolist(), strict=True
    ):
        taken.setdefault(row, []).append((start, end))
    clear = np.array(
        [
            all(e <= s0 or s >= e0 for s0, e0 in taken.get(row, ()))
            for row, s, e in zip(
                others.rows.tolist(), others.start.tolist(), others.end.tolist(), strict=True
            )
        ],
        dtype=np.bool_,
    )
    both = concat([replaced, others.take(clear)])
    order = np.lexsort((both.start, both.rows))
    return both.take(order)


class _RowsHolding:
    """The rows of a batch that match a detector's prefilter, found among the rows that
    hold one of the characters it needs (``registry.needs``), which numpy tells from the
    bytes."""

    def __init__(self, texts: pa.StringArray) -> None:
        self.texts = texts
        self.bytes = StringBytes.of(texts)

    def rows_matching(self, prefilter: str, chars: str) -> np.ndarray:
        if not chars:
            hit = pc.match_substring_regex(self.texts, prefilter)
            return np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        # A character's last UTF-8 byte: every text holding the character holds that byte.
        # (Comparisons, not ``np.isin``, which sorts: ten times slower on a batch's bytes.)
        wanted = sorted({c.encode("utf-8")[-1] for c in chars})
        data = self.bytes.data
        mask = data == wanted[0]
        for byte in wanted[1:]:
            mask |= data == byte
        candidates = np.flatnonzero(self.bytes.rows_with(mask))
        if len(candidates) == 0:
            return candidates
        few = self.texts.take(pa.array(candidates, pa.int64()))
        hit = pc.match_substring_regex(few, prefilter)
        rows: np.ndarray = candidates[hit.to_numpy(zero_copy_only=False)]
        return rows


def _handle_replacements(values: pa.Array, mentions: Mentions | None) -> pa.Array:
    """``@`` + the account's pseudonym for platform handles, ``@<USER>`` for the others.

    A list slug (``@alice/friends``) goes with the handle: it is part of the account's URL.
    """
    if mentions is None:
        return pa.array([PLACEHOLDERS["handle"]] * len(values), pa.string())
    parts = pc.extract_regex(values, r"^[@\x{FF20}](?P<name>[A-Za-z0-9_]+)")
    names = pc.struct_field(parts, [0])
    pseudonyms = mentions.resolve(names)
    # Typed scalars: Python strings go through pyarrow's type inference (see ``marking``).
    known = pc.binary_join_element_wise(_AT, pseudonyms, _NO_SEPARATOR)
    result: pa.Array = pc.fill_null(known, _HANDLE_PLACEHOLDER)
    return result


def _pii_lists(n_rows: int, rows: np.ndarray, kinds: np.ndarray) -> pa.ListArray:
    key = np.unique(rows * len(PII_TYPES) + kinds.astype(np.int64))
    key_rows = key // len(PII_TYPES)
    key_kinds = key % len(PII_TYPES)
    offsets = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(key_rows, minlength=n_rows), out=offsets[1:])
    values = _TYPE_NAMES.take(pa.array(key_kinds, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets), values)


def _scrub_chunk(
    texts: pa.Array,
    detectors: Sequence[Detector],
    mentions: Mentions | None,
    counts: np.ndarray,
) -> tuple[pa.Array, pa.ListArray]:
    arr = as_strings(texts)
    found = detect(arr, detectors)
    replaced = found.take(~np.isin(found.kind, _KEPT_CODES)) if len(found) else found
    counts += np.bincount(replaced.kind.astype(np.int64), minlength=len(PII_TYPES))
    pii = _pii_lists(len(arr), replaced.rows, replaced.kind)
    if len(replaced) == 0:
        return arr, pii
    repl = _PLACEHOLDER_BY_CODE.take(pa.array(replaced.kind.astype(np.int64), pa.int64()))
    is_handle = replaced.kind == TYPE_CODE["handle"]
    if is_handle.any():
        handles = replaced.values.filter(pa.array(is_handle))
        repl = pc.replace_with_mask(
            repl, pa.array(is_handle), _handle_replacements(handles, mentions)
        )
    text = splice(arr, replaced.rows, replaced.bstart, replaced.bend, repl)
    return text, pii


def scrub_array(
    texts: ArrayLike,
    *,
    mentions: Mentions | None = None,
    detectors: Sequence[Detector] | None = None,
) -> ScrubResult:
    """Scrub every text; see the module docstring. ``detectors`` default: the built-in ones
    of replaced types (``SCRUBBING``)."""
    dets = list(SCRUBBING) if detectors is None else list(detectors)
    counts = np.zeros(len(PII_TYPES), dtype=np.int64)
    if isinstance(texts, pa.ChunkedArray):
        outs = [_scrub_chunk(c, dets, mentions, counts) for c in texts.chunks]
        text: ArrayLike = pa.chunked_array([o[0] for o in outs], type=pa.string())
        pii: ArrayLike = pa.chunked_array([o[1] for o in outs], type=pa.list_(pa.string()))
    else:
        text, pii = _scrub_chunk(texts, dets, mentions, counts)
    by_type = {t: int(counts[TYPE_CODE[t]]) for t in REPLACED_TYPES}
    return ScrubResult(text=text, pii=pii, counts=by_type)


def scrub_text(
    text: str,
    *,
    mentions: Mentions | None = None,
    detectors: Sequence[Detector] | None = None,
) -> str:
    """One text (for tests and the odd caller; batches go through ``scrub_array``)."""
    result = scrub_array(pa.array([text], pa.string()), mentions=mentions, detectors=detectors)
    out: str = result.text[0].as_py()
    return out


def detect_spans(
    texts: ArrayLike | Sequence[str | None],
    *,
    detectors: Sequence[Detector] | None = None,
) -> list[list[Span]]:
    """The detections of each text, kept types included, as ``Span`` (code-point offsets)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    elif not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.string())
    found = detect(texts, detectors)
    out: list[list[Span]] = [[] for _ in range(len(texts))]
    for row, start, end, kind, value in zip(
        found.rows.tolist(),
        found.start.tolist(),
        found.end.tolist(),
        found.kind.tolist(),
        found.values.to_pylist(),
        strict=True,
    ):
        out[row].append(Span(start, end, PII_TYPES[kind], value))
    return out
