"""Arrow arrays from Python lists and numpy arrays without pyarrow's pandas import.

`pa.array`, `pa.scalar` and every compute call given a Python value first ask pyarrow's
pandas shim whether the value is a pandas object, and the first such question in a process
imports pandas: 0.25-0.4 s, more than a `molehunt ingest logs` call on a folder of EVTX
exports or a 300,000-line proxy log spends on its data. The ingest paths build their arrays
here instead, straight from buffers (`Array.from_buffers`), which never asks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_INT32_MAX = 2**31 - 1


def strings(values: Sequence[str | None]) -> pa.Array:
    """A string array of `values` (None: NULL), as `pa.array(values, pa.string())`.

    Raises:
        UnicodeEncodeError: A value holds a lone surrogate (as `pa.array` does).
    """
    count = len(values)
    encoded = [b"" if value is None else value.encode() for value in values]
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, count), out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    validity, nulls = _validity(np.fromiter((v is not None for v in values), np.bool_, count))
    if offsets[-1] <= _INT32_MAX:
        return pa.StringArray.from_buffers(
            count, pa.py_buffer(offsets.astype(np.int32)), data, validity, nulls
        )
    return pa.LargeStringArray.from_buffers(  # pragma: no cover - over 2 GiB of text
        count, pa.py_buffer(offsets), data, validity, nulls
    )


def string_scalar(value: str) -> pa.Scalar:
    """`value` as an Arrow string scalar (for compute calls), as `pa.scalar(value)`."""
    return strings([value])[0]


def repeated(value: str, count: int) -> pa.Array:
    """`count` copies of `value` as a string array, as `pa.array([value] * count)`."""
    encoded = value.encode()
    offsets = np.arange(count + 1, dtype=np.int64) * len(encoded)
    if offsets[-1] > _INT32_MAX:  # pragma: no cover - over 2 GiB of text
        return pa.LargeStringArray.from_buffers(
            count, pa.py_buffer(offsets), pa.py_buffer(encoded * count)
        )
    return pa.StringArray.from_buffers(
        count, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(encoded * count)
    )


def numbers(
    values: np.ndarray | Sequence[int] | Sequence[float],
    dtype: str = "int64",
    valid: np.ndarray | None = None,
) -> pa.Array:
    """A numeric array of `values` as numpy `dtype` (int64, int32, float64, ...).

    Args:
        values: The numbers.
        dtype: Their numpy type.
        valid: Which are not NULL (None: all), as `pa.array(values, mask=~valid)`.
    """
    array = np.ascontiguousarray(np.asarray(values, dtype=dtype))
    arrow_type = pa.from_numpy_dtype(array.dtype)
    validity, nulls = (None, 0) if valid is None else _validity(np.asarray(valid, np.bool_))
    return pa.Array.from_buffers(
        arrow_type, len(array), [validity, pa.py_buffer(array)], null_count=nulls
    )


def booleans(values: np.ndarray | Sequence[bool]) -> pa.Array:
    """A boolean array (no NULLs) of `values`, as `pa.array(values, pa.bool_())`."""
    array = np.asarray(values, dtype=np.bool_)
    bits = np.packbits(array, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(array), [None, pa.py_buffer(bits)])


def _validity(present: np.ndarray) -> tuple[pa.Buffer | None, int]:
    """(validity bitmap or None when nothing is NULL, NULL count)."""
    nulls = int(len(present) - np.count_nonzero(present))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(present, bitorder="little")), nulls


_NUMPY_TYPES = {
    pa.int8(): np.int8,
    pa.int16(): np.int16,
    pa.int32(): np.int32,
    pa.int64(): np.int64,
    pa.uint8(): np.uint8,
    pa.uint16(): np.uint16,
    pa.uint32(): np.uint32,
    pa.uint64(): np.uint64,
    pa.float32(): np.float32,
    pa.float64(): np.float64,
}


def to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean or numeric array without NULLs as numpy, as `array.to_numpy()` (whose
    conversion imports pandas). Numbers are a read-only view of the Arrow buffer.

    Raises:
        ValueError: The array holds NULLs (fill them first) or is of another type.
    """
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.null_count:
        raise ValueError(f"{array.null_count} NULLs in an array converted to numpy")
    data = array.buffers()[1]
    if pa.types.is_boolean(array.type):
        if data is None or len(array) == 0:
            return np.zeros(0, np.bool_)
        bits = np.unpackbits(np.frombuffer(data, np.uint8), bitorder="little")
        return bits[array.offset : array.offset + len(array)].astype(np.bool_)
    dtype = _NUMPY_TYPES.get(array.type)
    if dtype is None:
        raise ValueError(f"cannot convert an array of {array.type} to numpy here")
    if data is None or len(array) == 0:
        return np.zeros(0, dtype)
    return np.frombuffer(data, dtype, len(array), array.offset * np.dtype(dtype).itemsize)


FALSE = booleans([False])[0]
"""False as an Arrow scalar (for `pc.fill_null`; a Python False goes through `pa.scalar`)."""
