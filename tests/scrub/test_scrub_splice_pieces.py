"""``splice`` works on large batches a slice of rows at a time: same result as at once."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry.scrub import splice as splice_module
from consentry.scrub.splice import splice


def _reference(texts: list[str | None], spans: list[tuple[int, int, int, str]]) -> list[str | None]:
    out: list[str | None] = list(texts)
    for row, start, end, new in sorted(spans, reverse=True):
        raw = out[row]
        assert raw is not None
        data = raw.encode()
        out[row] = (data[:start] + new.encode() + data[end:]).decode()
    return out


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[str | None], list[tuple[int, int, int, str]]]:
    texts = draw(st.lists(st.one_of(st.none(), st.text("ab é€", max_size=12)), max_size=30))
    spans = []
    for row, text in enumerate(texts):
        if text is None or not draw(st.booleans()):
            continue
        # Cut points on character boundaries, pairs of them non-overlapping.
        cuts = sorted({len(text[:i].encode()) for i in draw(st.lists(st.integers(0, len(text))))})
        for start, end in zip(cuts[::2], cuts[1::2], strict=False):
            spans.append((row, start, end, draw(st.sampled_from(["<X>", "", "@u_1"]))))
    return texts, spans


@pytest.mark.parametrize("rows_at_a_time", [1, 3, 8192])
@settings(max_examples=150, deadline=None)
@given(batch=batches())
def test_splice_by_slices_of_rows_equals_the_reference(
    rows_at_a_time: int, batch: tuple[list[str | None], list[tuple[int, int, int, str]]]
) -> None:
    texts, spans = batch
    saved = splice_module.SPLICE_ROWS
    splice_module.SPLICE_ROWS = rows_at_a_time
    try:
        got = splice(
            pa.array(texts, pa.string()),
            np.array([s[0] for s in spans], dtype=np.int64),
            np.array([s[1] for s in spans], dtype=np.int64),
            np.array([s[2] for s in spans], dtype=np.int64),
            pa.array([s[3] for s in spans], pa.string()),
        )
    finally:
        splice_module.SPLICE_ROWS = saved
    assert got.to_pylist() == _reference(texts, spans)


@settings(max_examples=150, deadline=None)
@given(
    batch=batches(),
    before=st.lists(st.text("xyz€", max_size=9), max_size=5),
    after=st.lists(st.text("xyz€", max_size=9), max_size=5),
)
def test_splice_of_slices_of_larger_arrays_equals_the_reference(
    batch: tuple[list[str | None], list[tuple[int, int, int, str]]],
    before: list[str],
    after: list[str],
) -> None:
    """Texts and replacements that are slices share their parent's buffers: only their own
    bytes may be read (and copied)."""
    texts, spans = batch
    parent = pa.array([*before, *texts, *after], pa.string())
    sliced = parent.slice(len(before), len(texts))
    news = [s[3] for s in spans]
    replacements = pa.array([*before, *news, *after], pa.string()).slice(len(before), len(news))
    got = splice(
        sliced,
        np.array([s[0] for s in spans], dtype=np.int64),
        np.array([s[1] for s in spans], dtype=np.int64),
        np.array([s[2] for s in spans], dtype=np.int64),
        replacements,
    )
    assert got.to_pylist() == _reference(texts, spans)
