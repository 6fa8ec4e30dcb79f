"""Streaming reads of plain or gzip text files in line-aligned chunks."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from molehunt.errors import IngestError

DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
PREFIX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Chunk:
    """A run of whole physical lines from a file.

    Args:
        data: The bytes, ending in a newline unless `is_last`.
        first_line: 1-based number of the chunk's first line.
        start: Offset of `data` in the (decompressed) stream.
        is_last: True for the final chunk of the file.

        following: The chunks after this one that a chunk source passes on for context
            (formats that join later lines to an event); not part of this chunk.

    Attributes:
        line_count: Number of physical lines in `data`.
    """

    data: bytes
    first_line: int
    start: int
    is_last: bool
    following: tuple[Chunk, ...] = field(default=(), compare=False, repr=False)
    line_count: int = field(init=False)

    def __post_init__(self) -> None:
        # Physical lines in the chunk (a final line need not end in a newline); counted once.
        count = self.data.count(b"\n")
        if self.data and not self.data.endswith(b"\n"):
            count += 1
        object.__setattr__(self, "line_count", count)

    @property
    def end(self) -> int:
        """Offset just past the chunk."""
        return self.start + len(self.data)

    def numbered_lines(self) -> list[tuple[int, bytes]]:
        """Return (line number, raw line without its newline) for every physical line."""
        lines = self.data.split(b"\n")
        if self.data.endswith(b"\n"):
            lines.pop()
        return list(enumerate(lines, start=self.first_line))


def is_gzip(path: Path) -> bool:
    """Tell whether `path` holds gzip data (by its magic bytes, not its name)."""
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class _CheckedGzipFile(gzip.GzipFile):
    """A gzip reader whose corrupt or truncated data is an IngestError naming the file.

    Plain `gzip` raises EOFError (which click reports as "Aborted!") or zlib.error (a
    traceback) for a damaged file.
    """

    def read(self, size: int | None = -1) -> bytes:
        try:
            return super().read(size)
        except (EOFError, OSError, zlib.error) as error:
            raise IngestError(
                f"{self.name}: corrupt or truncated gzip data ({error}); "
                "expected a complete .gz file"
            ) from error


def open_binary(path: Path) -> BinaryIO:
    """Open a plain or gzip file for reading its (decompressed) bytes.

    Raises:
        IngestError: The path is missing or not a readable file.
    """
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if not path.is_file():
        raise IngestError(f"{path}: not a file")
    try:
        if is_gzip(path):
            return _CheckedGzipFile(path, "rb")  # type: ignore[return-value]
        return path.open("rb")
    except OSError as error:
        raise IngestError(f"{path}: cannot read ({error.strerror or error})") from error


def fingerprint(path: Path, length: int = PREFIX_BYTES) -> tuple[int, str]:
    """Hash the first `length` bytes of a file's content.

    Args:
        path: The file (gzip is decompressed first).
        length: How many leading bytes to hash at most.

    Returns:
        (bytes hashed, hex digest). A file that grows keeps the digest of its old prefix.
    """
    head = read_prefix(path, length)
    return len(head), hashlib.blake2b(head, digest_size=16).hexdigest()


def read_prefix(path: Path, length: int = PREFIX_BYTES) -> bytes:
    """Return the first `length` bytes of a file's content (fewer if it is shorter).

    Raises:
        IngestError: The path is missing or not a readable file.
    """
    with open_binary(path) as handle:
        return _read_exactly(handle, length)


def _read_exactly(handle: BinaryIO, length: int) -> bytes:
    parts = []
    remaining = length
    while remaining > 0:
        part = handle.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def read_chunks(
    path: Path,
    *,
    start: int = 0,
    first_line: int = 1,
    chunk_bytes: int | None = None,
) -> Iterator[Chunk]:
    """Yield the file from offset `start` as chunks of whole lines.

    Args:
        path: Plain or gzip file.
        start: Offset in the decompressed stream to resume from (must be a line start).
        first_line: Line number of the line at `start`.
        chunk_bytes: Approximate chunk size (default DEFAULT_CHUNK_BYTES).

    Yields:
        Chunks in order; the last one may end without a newline.

    Raises:
        IngestError: The file cannot be read.
    """
    size = chunk_bytes or DEFAULT_CHUNK_BYTES
    with open_binary(path) as handle:
        _skip(handle, start)
        carry = b""
        offset = start
        line = first_line
        while True:
            block = handle.read(size)
            data = carry + block
            if not block:
                if data:
                    yield Chunk(data, line, offset, True)
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            chunk = Chunk(data[:cut], line, offset, False)
            carry = data[cut:]
            offset += cut
            line += chunk.line_count
            yield chunk


def _skip(handle: BinaryIO, count: int) -> None:
    if count <= 0:
        return
    try:
        handle.seek(count)
        return
    except (OSError, ValueError):  # pragma: no cover - gzip streams seek by reading
        pass
    while count > 0:
        part = handle.read(min(count, DEFAULT_CHUNK_BYTES))
        if not part:
            break
        count -= len(part)
