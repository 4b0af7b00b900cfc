"""Replace byte ranges of rows of a string array with new strings, without a Python loop.

Each affected row is rebuilt once, kept bytes and replacements in turn, by
``consentry._splice`` (C, without the GIL: no library replaces by position); unaffected rows
are not copied: ``replace_with_mask`` puts the rebuilt ones back.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from consentry import _splice

Int64s = npt.NDArray[np.int64]


def _buffers(arr: pa.StringArray) -> tuple[npt.NDArray[np.int32], memoryview | bytes]:
    """The rows' int32 offsets (a view: ``len(arr) + 1`` of them, into the whole data buffer)
    and that buffer."""
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4)
    data = buffers[2]
    return offsets, (b"" if data is None else memoryview(data))


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
    if len(rows) == 0:
        return texts
    offsets, data = _buffers(texts)
    r_offsets, r_data = _buffers(replacements)
    out_data, out_offsets = _splice.splice(
        data,
        offsets.data,
        np.ascontiguousarray(rows, dtype=np.int64).data,
        np.ascontiguousarray(bstart, dtype=np.int64).data,
        np.ascontiguousarray(bend, dtype=np.int64).data,
        r_data,
        r_offsets.data,
    )
    affected = np.unique(rows)
    rebuilt = pa.StringArray.from_buffers(
        len(affected), pa.py_buffer(out_offsets), pa.py_buffer(out_data)
    )
    mask = np.zeros(len(texts), dtype=np.bool_)
    mask[affected] = True
    result: pa.StringArray = pc.replace_with_mask(texts, pa.array(mask), rebuilt)
    return result
