"""The files a platform serves to crawlers, written as streams of rules, a chunk of accounts at
a time with Arrow string kernels (no Python object per account): ``robots.txt`` and
``/.well-known/tdmrep.json``.

robots.txt holds one ``User-Agent: *`` group: ``Allow: /`` (these signals are about use, not
access), the opt-in default for every page (``Content-Usage: train-ai=n`` and its Content
Signal), then, per account and kind of page, its ``Content-Usage:`` rule with the path of its
pages (draft-ietf-aipref-attach-05: the longest matching path wins) and the matching
``Content-Signal:`` line in the same form.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from consentry.signals.published import Published, rule_paths, url_part
from consentry.signals.registry import VOCABULARIES, choices_by_combo
from consentry.signals.tdmrep import Tdmrep
from consentry.signals.vocabulary import Choice, Vocabulary

CHUNK: Final = 65_536
_TDMREP: Final = Tdmrep()


def _bytes(lines: pa.Array) -> memoryview:
    """The text of a string array whose values each end with their separator: its data buffer
    between the first and the last offset, as it is."""
    lines = lines.cast(pa.large_string())
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]


def _by_combo(vocab: Vocabulary, combos: tuple[Choice, ...], chunk: pa.Array) -> pa.Array:
    return pa.array([vocab.value(c) for c in combos], pa.string()).take(chunk)


def _chunks(pub: Published) -> Iterator[tuple[pa.Array, pa.Array]]:
    """(url parts, combo codes) a chunk of accounts at a time."""
    for start in range(0, len(pub), CHUNK):
        keys = pub.keys.slice(start, CHUNK)
        yield url_part(keys), pa.array(pub.combo[start : start + CHUNK])


def _interleave(columns: list[pa.Array]) -> pa.Array:
    """Row 0 of each column, then row 1 of each, …: one account's lines together."""
    n = len(columns[0])
    k = len(columns)
    order = (np.arange(n)[:, None] + np.arange(k)[None, :] * n).ravel()
    return pa.concat_arrays(columns).take(pa.array(order))


def robots_header(pub: Published) -> str:
    default = choices_by_combo(pub.config.search)[0]
    lines = [
        "# Each account's choice about AI use of its public pages, published by Consentry",
        f"# as of ledger entry {pub.position.seq} ({pub.position.hash}).",
        "User-Agent: *",
        "Allow: /",
    ]
    lines += [f"{v.robots}: {v.value(default)}" for v in VOCABULARIES if v.robots is not None]
    return "\n".join(lines) + "\n"


def write_robots(pub: Published, out: BinaryIO) -> int:
    """Write robots.txt; returns the number of per-account rules."""
    out.write(robots_header(pub).encode("ascii"))
    combos = choices_by_combo(pub.config.search)
    vocabs = [v for v in VOCABULARIES if v.robots is not None]
    rules = 0
    for parts, combo in _chunks(pub):
        columns = []
        for page in pub.config.pages:
            paths = rule_paths(page, parts)
            for vocab in vocabs:
                value = _by_combo(vocab, combos, combo)
                columns.append(
                    pc.binary_join_element_wise(f"{vocab.robots}: ", paths, " ", value, "\n", "")
                )
        lines = _interleave(columns)
        rules += len(lines)
        out.write(_bytes(lines))
    return rules


def write_tdmrep(pub: Published, out: BinaryIO) -> int:
    """Write ``/.well-known/tdmrep.json``; returns the number of entries."""
    combos = choices_by_combo(pub.config.search)
    out.write(b"[")
    entries = 0
    for parts, combo in _chunks(pub):
        value = _by_combo(_TDMREP, combos, combo)
        columns = [
            # Paths hold only URL path characters (config.py, url_part): nothing to escape.
            pc.binary_join_element_wise(
                ',\n  {"location": "',
                rule_paths(page, parts),
                '", "tdm-reservation": ',
                value,
                "}",
                "",
            )
            for page in pub.config.pages
        ]
        data = _bytes(_interleave(columns))
        # The first entry of all has no comma before it.
        out.write(data[1:] if entries == 0 else data)
        entries += len(parts) * len(columns)
    out.write(b"\n]\n" if entries else b"]\n")
    return entries
