"""``splice`` against a reference written in Python (bytes cut and joined), on slices of
arrays too, and its refusal of spans it cannot apply."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize("start", [0, 1, 5])
@settings(max_examples=200, deadline=None)
@given(batch=batches())
def test_splice_equals_the_reference(
    start: int, batch: tuple[list[str | None], list[tuple[int, int, int, str]]]
) -> None:
    texts, spans = batch
    # The texts as a slice of a longer array, the replacements likewise: offsets not from 0.
    array = pa.array(["pad"] * start + texts, pa.string()).slice(start)
    news = pa.array(["zz"] * start + [s[3] for s in spans], pa.string()).slice(start)
    got = splice(
        array,
        np.array([s[0] for s in spans], dtype=np.int64),
        np.array([s[1] for s in spans], dtype=np.int64),
        np.array([s[2] for s in spans], dtype=np.int64),
        news,
    )
    assert got.to_pylist() == _reference(texts, spans)


@pytest.mark.parametrize(
    ("rows", "starts", "ends", "message"),
    [
        ([1, 0], [0, 0], [1, 1], "not ascending"),
        ([0], [0], [9], "outside its row"),
        ([0, 0], [0, 1], [2, 3], "overlapping"),
        ([0], [2], [1], "outside its row"),
        ([5], [0], [1], "not ascending within the array"),
    ],
)
def test_a_span_it_cannot_apply_is_refused(
    rows: list[int], starts: list[int], ends: list[int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        splice(
            pa.array(["abcd", "efgh"], pa.string()),
            np.array(rows, dtype=np.int64),
            np.array(starts, dtype=np.int64),
            np.array(ends, dtype=np.int64),
            pa.array(["X"] * len(rows), pa.string()),
        )
