"""A string array's UTF-8 bytes and row offsets as numpy, without a copy (the one home of that
reading, for the scrubber, its detectors and the census), and which rows hold a byte of some
kind: facts about every row told by one numpy pass over the bytes, where an RE2
kernel walks each text (a character class of thousands of code points, as NFKC's, runs at a
fifth of numpy's speed). Bytes below 0x80 are whole ASCII characters in UTF-8 (every byte of a
longer character is 0x80 or above), so an ASCII byte found is that character."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa


def as_strings(texts: pa.Array) -> pa.StringArray:
    """``texts`` as a ``string`` array: large strings, string views, dictionaries and nulls
    cast; anything else refused."""
    if pa.types.is_string(texts.type):
        return texts
    if (
        pa.types.is_large_string(texts.type)
        or pa.types.is_string_view(texts.type)
        or pa.types.is_dictionary(texts.type)
        or pa.types.is_null(texts.type)
    ):
        result: pa.StringArray = texts.cast(pa.string())
        return result
    raise TypeError(f"texts must be strings, not {texts.type}")


@dataclass(frozen=True, slots=True)
class StringBytes:
    """``data``: the array's bytes (a view); ``offsets``: where each row starts in it, then
    where the last ends (``len(texts) + 1`` values, the first 0). A null row has the bytes its
    offsets give it (none, as Arrow writes them)."""

    data: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]

    @classmethod
    def of(cls, texts: pa.Array) -> StringBytes:
        """The bytes of a ``string`` array (a slice too)."""
        if not pa.types.is_string(texts.type):
            raise TypeError(f"texts must be strings, not {texts.type}")
        n = len(texts)
        if n == 0:  # (an empty array may have no buffers at all)
            return cls(np.zeros(0, np.uint8), np.zeros(1, np.int64))
        _, offsets_buffer, data_buffer = texts.buffers()
        raw = np.frombuffer(offsets_buffer, dtype=np.int32)[texts.offset : texts.offset + n + 1]
        whole = (
            np.zeros(0, np.uint8) if data_buffer is None else np.frombuffer(data_buffer, np.uint8)
        )
        return cls(whole[int(raw[0]) : int(raw[-1])], raw.astype(np.int64) - int(raw[0]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows_with(self, mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Whether each row holds a byte where ``mask`` (one value per byte of ``data``) is
        true."""
        out = np.zeros(len(self), dtype=np.bool_)
        # The row of each byte found: the last row starting at or before it (an empty row
        # starts where the next one does, so it is never that row). Cheaper than a reduction
        # over every byte when few are found, as most scans find.
        at = np.flatnonzero(mask)
        out[np.searchsorted(self.offsets, at, side="right") - 1] = True
        return out

    def non_ascii_rows(self) -> npt.NDArray[np.bool_]:
        """Whether each row holds a character beyond ASCII."""
        return self.rows_with(self.data >= 0x80)
