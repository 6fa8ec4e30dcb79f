"""Fuzzing the text log parsers: no input crashes them, and every line is accounted for once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molehunt.ingest.csv_chunk import LINE_COLUMN
from molehunt.ingest.logs.common import LogPlan
from molehunt.ingest.logs.exchange import exchange_parser
from molehunt.ingest.logs.postfix import postfix_parser
from molehunt.ingest.logs.squid import parse_squid
from molehunt.ingest.logs.zeek import zeek_smtp_parser
from molehunt.ingest.reader import Chunk

PLANS = {
    "squid": LogPlan("squid", parse_squid),
    "exchange": LogPlan("exchange", exchange_parser()),
    "zeek-smtp": LogPlan("zeek-smtp", zeek_smtp_parser()),
    "postfix": LogPlan("postfix", postfix_parser(2024)),
}
SEEDS = [
    b"1157689320.327   2864 10.1.1.1 TCP_MISS/200 10182 GET http://a/ bob DIRECT/1.2.3.4 text/html",
    b"2024-01-25T15:16:09Z" + b",x" * 7 + b",SEND" + b",y" * 10 + b",a@b.org" + b",z" * 10,
    b"1521911721.5\tC1\t10.0.0.1\t1\t10.0.0.2\t25\t1\th\t<a@b>\tc@d\t-\t-\t-\t-\t-\t-\t-\ts"
    + b"\t-" * 9,
    b"Jan  2 07:00:00 mx postfix/qmgr[1]: 4F2A1: from=<a@x.org>, size=10, nrcpt=1",
    b'{"message": "4F2A1: from=<a@x.org>, size=10, nrcpt=1", "timestamp": "2024-01-02T00:00:00Z"}',
]

line = st.one_of(
    st.sampled_from(SEEDS),
    st.sampled_from(SEEDS).flatmap(lambda s: st.integers(0, len(s)).map(lambda n: s[:n])),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    st.text(max_size=200).map(lambda t: t.replace("\n", " ").encode("utf-8")),
    st.sampled_from(SEEDS).map(lambda s: s + b"x" * 100_000),
    st.sampled_from(SEEDS)
    .map(lambda s: s.decode().encode("utf-16"))
    .map(lambda b: b.replace(b"\n", b" ")),
)


@pytest.mark.parametrize("name", sorted(PLANS))
@settings(max_examples=60, deadline=None)
@given(lines=st.lists(line, min_size=1, max_size=8))
def test_every_line_is_stored_rejected_or_skipped_once(name: str, lines: list[bytes]) -> None:
    chunk = Chunk(b"\n".join(lines) + b"\n", 1, 0, True)
    table, rejects = PLANS[name].split(chunk)
    numbers = sorted([*table.column(LINE_COLUMN).to_pylist(), *(r.line for r in rejects)])
    assert numbers == list(range(1, len(lines) + 1)), "a line was lost or counted twice"
    for reject in rejects:
        assert reject.reason and not reject.reason.startswith("unparsable " + name + " line ("), (
            f"parser crashed on line {reject.line}: {reject.reason}"
        )
