"""Replace byte ranges of rows of a string array with new strings, without a Python loop.

Each affected row is rebuilt as segments: kept bytes of the original, replacement, kept bytes,
…, the tail. All segments of all rows become one gather index into (original bytes ++
replacement bytes), built with ``np.repeat``; the rows' new offsets are sums of their segment
lengths. Unaffected rows are not copied: ``replace_with_mask`` puts the rebuilt ones back.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Int64s = npt.NDArray[np.int64]


def _offsets_and_data(arr: pa.StringArray) -> tuple[Int64s, npt.NDArray[np.uint8]]:
    """Offsets of ``arr``'s rows (length + 1), from 0, into the bytes of those rows, and those
    bytes (a view of the data buffer, not a copy)."""
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    offsets = offsets.astype(np.int64)
    data_buf = buffers[2]
    if data_buf is None or not data_buf.size:
        return offsets - offsets[0], np.zeros(0, dtype=np.uint8)
    # Only the bytes of these rows, offsets rebased onto them: a slice shares its parent's
    # whole buffer, and ``_splice`` copies the buffer it gets (each 8192-row piece of a 64k-row
    # batch copied all 64k rows' bytes; a 16k-row slice of a 156k-row column, all of them).
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


#: Rows spliced at a time: the gather index costs 8 bytes per byte of every affected row, three
#: times over while it is built (at 64k rows of posts, some 60 MB at once).
SPLICE_ROWS = 8192


def splice(
    texts: pa.StringArray,
    rows: Int64s,
    bstart: Int64s,
    bend: Int64s,
    replacements: pa.StringArray,
) -> pa.StringArray:
    """``texts`` with ``texts[rows[i]]``'s bytes ``[bstart[i], bend[i])`` replaced.

    Spans must be sorted by (row, start) and must not overlap; rows must not be null.
    """
    if len(rows) == 0 or len(texts) <= SPLICE_ROWS:
        return _splice(texts, rows, bstart, bend, replacements)
    starts = np.arange(0, len(texts), SPLICE_ROWS, dtype=np.int64)
    bounds = np.searchsorted(rows, np.append(starts, len(texts))).tolist()
    pieces = []
    for i, lo in enumerate(starts.tolist()):
        a, b = bounds[i], bounds[i + 1]
        part = texts.slice(lo, SPLICE_ROWS)
        if b > a:
            part = _splice(part, rows[a:b] - lo, bstart[a:b], bend[a:b], replacements[a:b])
        pieces.append(part)
    result: pa.StringArray = pa.concat_arrays(pieces)
    return result


def _splice(
    texts: pa.StringArray,
    rows: Int64s,
    bstart: Int64s,
    bend: Int64s,
    replacements: pa.StringArray,
) -> pa.StringArray:
    n = len(rows)
    if n == 0:
        return texts
    offsets, data = _offsets_and_data(texts)
    r_offsets, r_data = _offsets_and_data(replacements)

    affected, first, counts = np.unique(rows, return_index=True, return_counts=True)
    rank = np.repeat(np.arange(len(affected), dtype=np.int64), counts)
    is_first = np.zeros(n, dtype=np.bool_)
    is_first[first] = True
    prev_end = np.empty(n, dtype=np.int64)
    prev_end[0] = 0
    prev_end[1:] = bend[:-1]
    prev_end[is_first] = 0

    row_start = offsets[rows]
    last = first + counts - 1
    n_seg = 2 * n + len(affected)
    seg_src = np.empty(n_seg, dtype=np.int64)
    seg_len = np.empty(n_seg, dtype=np.int64)
    span_ix = np.arange(n, dtype=np.int64)
    keep_pos = 2 * span_ix + rank
    seg_src[keep_pos] = row_start + prev_end
    seg_len[keep_pos] = bstart - prev_end
    seg_src[keep_pos + 1] = len(data) + r_offsets[:-1]
    seg_len[keep_pos + 1] = np.diff(r_offsets)
    tail_pos = 2 * last + 2 + np.arange(len(affected), dtype=np.int64)
    seg_src[tail_pos] = offsets[affected] + bend[last]
    seg_len[tail_pos] = offsets[affected + 1] - offsets[affected] - bend[last]

    source = np.concatenate([data, r_data[r_offsets[0] : r_offsets[-1]]])
    # r_data was sliced to start at r_offsets[0]: shift the replacement sources accordingly.
    seg_src[keep_pos + 1] -= r_offsets[0]
    total = int(seg_len.sum())
    seg_first_byte = np.cumsum(seg_len) - seg_len
    gather = np.repeat(seg_src - seg_first_byte, seg_len) + np.arange(total, dtype=np.int64)
    out = source[gather]

    row_seg_start = 2 * first + np.arange(len(affected), dtype=np.int64)
    row_len = np.add.reduceat(seg_len, row_seg_start)
    new_offsets = np.zeros(len(affected) + 1, dtype=np.int64)
    np.cumsum(row_len, out=new_offsets[1:])
    if new_offsets[-1] >= 2**31:
        raise OverflowError(
            "scrubbed batch too large for 32-bit string offsets; use smaller batches"
        )
    rebuilt = pa.StringArray.from_buffers(
        len(affected),
        pa.py_buffer(new_offsets.astype(np.int32).tobytes()),
        pa.py_buffer(out.tobytes()),
    )
    mask = np.zeros(len(texts), dtype=np.bool_)
    mask[affected] = True
    result: pa.StringArray = pc.replace_with_mask(texts, pa.array(mask), rebuilt)
    return result
