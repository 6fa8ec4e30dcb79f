"""Arrays built from buffers equal pyarrow's own conversion, and ingest never imports pandas."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from molehunt.ingest import arrays

LOGS = Path(__file__).parents[2] / ".." / "shared" / "data" / "logs"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.text(max_size=40)))
def test_strings_equal_pa_array(values: list[str | None]) -> None:
    built = arrays.strings(values)
    assert built.equals(pa.array(values, pa.string()))
    built.validate(full=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**63), 2**63 - 1)), st.data())
def test_numbers_equal_pa_array(values: list[int], data: st.DataObject) -> None:
    assert arrays.numbers(values).equals(pa.array(values, pa.int64()))
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))))
    masked = arrays.numbers(np.array(values, np.int64), valid=valid)
    assert masked.to_pylist() == [v if ok else None for v, ok in zip(values, valid, strict=True)]
    small = [v % 1000 for v in values]
    assert arrays.numbers(small, "int32").equals(pa.array(small, pa.int32()))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans()))
def test_booleans_equal_pa_array(values: list[bool]) -> None:
    assert arrays.booleans(values).equals(pa.array(values, pa.bool_()))


def test_repeated_and_scalars() -> None:
    assert arrays.repeated("http", 3).equals(pa.array(["http"] * 3, pa.string()))
    assert arrays.repeated("x", 0).equals(pa.array([], pa.string()))
    assert arrays.string_scalar("é-") == pa.scalar("é-")


def test_lone_surrogate_raises_as_pa_array_does() -> None:
    with pytest.raises(UnicodeEncodeError):
        pa.array(["a\ud800"], pa.string())
    with pytest.raises(UnicodeEncodeError):
        arrays.strings(["a\ud800"])


@pytest.mark.skipif(not LOGS.is_dir(), reason=f"{LOGS} not found")
def test_ingest_of_native_logs_does_not_import_pandas(tmp_path: Path) -> None:
    # pyarrow imports pandas on the first Python value it converts (0.25-0.4 s): the log
    # formats build their arrays from buffers, so a process never pays it.
    maillog = tmp_path / "maillog"
    maillog.write_text(
        "Jan  2 07:00:00 mx postfix/qmgr[6]: QA: from=<ann@x.org>, size=5, nrcpt=1\n"
        "Jan  2 07:00:01 mx postfix/smtp[7]: QA: to=<b@y.org>, relay=y, status=sent (ok)\n"
        "2025-01-02T07:00:02.5+01:00 mx postfix/qmgr[6]: QB: from=<bob@x.org>, size=5, nrcpt=1\n"
        "Jan  2 07:00:03 mx postfix/qmgr[6]: QA: removed\n"
    )
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from molehunt.ingest.logs import ingest_logs
        from molehunt.store import Store
        logs = Path({str(LOGS)!r})
        evtx = sorted(logs.rglob("*.evtx"))
        squid = sorted(logs.rglob("squid*.log"))
        zeek = sorted(logs.rglob("zeek-smtp*"))
        with Store.open(Path({str(tmp_path)!r}) / "ws") as store:
            one = ingest_logs(store, evtx, "evtx")
            two = ingest_logs(store, squid, "squid")
            three = ingest_logs(store, [Path({str(maillog)!r})], "postfix")
            four = ingest_logs(store, zeek, "zeek-smtp")
        assert one.stored and two.stored and three.stored == 2 and four.stored, (one, four)
        print("pandas" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "False"
