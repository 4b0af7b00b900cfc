"""Arrow boolean results as numpy masks, null counted as false: the one home of a helper every
vectorised module needs (it was written out in a dozen)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc


def bool_mask(arr: Any) -> npt.NDArray[np.bool_]:
    """An Arrow boolean array (or chunked array) as numpy, null counted as false."""
    out = pc.fill_null(arr, False).to_numpy(zero_copy_only=False)
    return np.asarray(out, dtype=np.bool_)


def is_null(arr: Any) -> npt.NDArray[np.bool_]:
    return bool_mask(pc.is_null(arr))


def is_valid(arr: Any) -> npt.NDArray[np.bool_]:
    return bool_mask(pc.is_valid(arr))
