"""A simulated institute's print.csv (not a CERT file) via `ingest cert`: columns, rejects."""

from __future__ import annotations

from pathlib import Path

from molehunt.ingest import ingest_cert
from molehunt.store import Store

PRINT_CSV = (
    "id,date,user,pc,printer,document,pages\n"
    "{A1},01/04/2010 09:00:00,AAA0001,PC-1,PRN-LAB-1,Microsoft Word - plan.docx,12\n"
    "{A2},01/04/2010 21:00:00,AAA0001,PC-1,PRN-LAB-1,plan.docx,twelve\n"
    "{A3},01/04/2010 21:05:00,AAA0001,PC-1,PRN-LAB-1,,3\n"
    "{A4},01/04/2010 21:10:00,AAA0001,PC-1,PRN-LAB-1,notes.txt,-2\n"
)


def test_print_csv_maps_printer_document_pages_and_rejects_bad_rows(
    store: Store, tmp_path: Path
) -> None:
    (tmp_path / "print.csv").write_text(PRINT_CSV, encoding="utf-8")
    ingest_cert(store, tmp_path)
    events = store.query(
        "SELECT event_id, user, host, channel, action, object, attachment_count, content "
        "FROM events"
    )
    assert events == [
        ("{A1}", "AAA0001", "PRN-LAB-1", "print", "print", "Microsoft Word - plan.docx", 12, "PC-1")
    ]
    rejects = store.query("SELECT line, reason FROM rejects ORDER BY line")
    assert rejects == [
        (3, "bad number 'twelve' in field pages (expected a whole number >= 0)"),
        (4, "missing document"),
        (5, "bad number '-2' in field pages (expected a whole number >= 0)"),
    ]
