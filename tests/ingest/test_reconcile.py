"""Nothing is lost: stored + rejected == read, every valid row stored exactly once."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from molehunt.ingest import ingest_cert
from molehunt.ingest.csv_chunk import split_chunk
from molehunt.ingest.reader import Chunk
from molehunt.store import Store

HEADER = b"id,date,user,pc,activity\n"

valid_rows = st.builds(
    lambda n, day, user, act: (
        f"{{V{n:06d}}},01/{day:02d}/2010 07:00:00,{user},PC-{n % 97},{act}".encode()
    ),
    st.integers(0, 999_999),
    st.integers(1, 28),
    st.from_regex(r"[A-Z]{3}[0-9]{4}", fullmatch=True),
    st.sampled_from(["Logon", "Logoff"]),
)
garbage = st.one_of(
    st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.just(b""),
    st.just(b'{X},"01/02/2010 07:00:00,AAA0001,PC-1,Logon'),
    st.just(b"{X},01/02/2010 07:00:00,AAA0001,PC-1"),
    st.just(b"{X},02/30/2010 07:00:00,AAA0001,PC-1,Logon"),
)
lines = st.lists(st.tuples(st.booleans(), valid_rows, garbage), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_garbage_mixed_into_valid_rows_reconciles(mix: list[tuple[bool, bytes, bytes]]) -> None:
    body = [row if is_valid else junk for is_valid, row, junk in mix]
    valid_ids = sorted(row.split(b",")[0].decode() for is_valid, row, _ in mix if is_valid)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "logon.csv"
        path.write_bytes(HEADER + b"\n".join(body) + b"\n")
        with Store.open(Path(folder) / "ws") as store:
            report = ingest_cert(store, path)
            assert report.read == len(body)
            assert report.stored + report.rejected == report.read
            stored = sorted(r[0] for r in store.query("SELECT event_id FROM events"))
            # every valid row is stored exactly once (no garbage line can carry a {V id)
            assert [i for i in stored if i.startswith("{V")] == valid_ids
            lines_seen = sorted(
                [r[0] for r in store.query("SELECT source_line FROM events")]
                + [r[0] for r in store.query("SELECT line FROM rejects")]
            )
            assert lines_seen == list(range(2, len(body) + 2))


@settings(max_examples=60, deadline=None)
@given(lines)
def test_fast_and_exact_split_agree(mix: list[tuple[bool, bytes, bytes]]) -> None:
    body = [row if is_valid else junk for is_valid, row, junk in mix]
    chunk = Chunk(b"\n".join(body) + b"\n", 2, 0, False)
    names = ["id", "date", "user", "pc", "activity"]
    fast, fast_rejects = split_chunk(chunk, names)
    exact, exact_rejects = split_chunk(chunk, names, force_exact=True)
    assert fast.to_pylist() == exact.to_pylist()
    assert fast_rejects == exact_rejects


def test_blank_lines_and_empty_fields_split_as_the_exact_path_splits_them() -> None:
    # Arrow reads a blank line as a row of empty fields; the fast path must not keep it.
    row = b"{V1},01/02/2010 07:00:00,AAA0001,PC-1,Logon"
    names = ["id", "date", "user", "pc", "activity"]
    for body in (
        row + b"\n\n" + row + b"\n",
        row + b"\n\r\n" + row + b"\n",
        b"\n" + row + b"\n",
        b"\r\n" + row + b"\r\n",
        row + b"\n" + row + b"\n\n",
        row + b"\n,,,,\n" + row + b"\n",
        row + b",\n,,,,,\n" + row + b",\n",
    ):
        chunk = Chunk(body, 2, 0, False)
        fast, fast_rejects = split_chunk(chunk, names)
        exact, exact_rejects = split_chunk(chunk, names, force_exact=True)
        assert fast.to_pylist() == exact.to_pylist(), body
        assert fast_rejects == exact_rejects, body
        assert fast.num_rows + len(fast_rejects) == chunk.line_count, body
    blank = split_chunk(Chunk(row + b"\n\n" + row + b"\n", 2, 0, False), names)
    assert [r.line for r in blank[1]] == [3], "the blank line is a reject, not a row"
