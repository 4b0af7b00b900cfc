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
from consentry.hashing import binary_buffers

Int64s = npt.NDArray[np.int64]


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
    # Rows with spans are never null: their slots are all the loop reads.
    text_buffers = binary_buffers(texts, nulls_empty=False)
    new_buffers = binary_buffers(replacements)
    assert text_buffers is not None and new_buffers is not None  # (both have rows)
    out_data, out_offsets = _splice.splice(
        *text_buffers,
        np.ascontiguousarray(rows, dtype=np.int64).data,
        np.ascontiguousarray(bstart, dtype=np.int64).data,
        np.ascontiguousarray(bend, dtype=np.int64).data,
        *new_buffers,
    )
    affected = np.unique(rows)
    rebuilt = pa.StringArray.from_buffers(
        len(affected), pa.py_buffer(out_offsets), pa.py_buffer(out_data)
    )
    mask = np.zeros(len(texts), dtype=np.bool_)
    mask[affected] = True
    result: pa.StringArray = pc.replace_with_mask(texts, pa.array(mask), rebuilt)
    return result
