"""DOCX and PDF: marked copies keep their format, and a leaked DOCX or PDF is traced."""

from __future__ import annotations

from pathlib import Path

import pytest

from molehunt.errors import TraceError
from molehunt.store import Store
from molehunt.trace import mark_document, read_leak, trace_text
from molehunt.trace.formats import FONT_CANDIDATES
from molehunt.trace.sample import sample_document

docx = pytest.importorskip("docx")
fpdf = pytest.importorskip("fpdf")

RECIPIENTS = [f"analyst{i}" for i in range(12)]


def _write_docx(path: Path, text: str) -> None:
    document = docx.Document()
    for number, paragraph in enumerate(text.strip().split("\n\n")):
        block = document.add_paragraph()
        words = paragraph.split(" ")
        block.add_run(" ".join(words[:3]) + " ").bold = number % 2 == 0  # formatting to keep
        block.add_run(" ".join(words[3:]))
    document.save(str(path))


def _write_pdf(path: Path, text: str) -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    for paragraph in text.strip().split("\n\n"):
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def test_docx_copies_keep_run_formatting_and_a_leaked_docx_is_traced(tmp_path: Path) -> None:
    source = tmp_path / "plan.docx"
    _write_docx(source, sample_document("en", 1500, seed=11))
    with Store.open(tmp_path / "ws") as store:
        copies = {
            c["recipient"]: c for c in mark_document(store, source, RECIPIENTS, tmp_path / "out")
        }
        leaked = Path(copies["analyst7"]["file_name"])
        marked = docx.Document(str(leaked))
        assert marked.paragraphs[0].runs[0].bold is True  # formatting kept
        report = trace_text(store, read_leak(leaked))
        assert [c.recipient for c in report.attributed] == ["analyst7"]
        # a retyped stretch of the DOCX's text is traced as well
        words = read_leak(leaked).split()
        report = trace_text(store, " ".join(words[400:700]))
        assert [c.recipient for c in report.attributed] == ["analyst7"]


def test_pdf_copies_have_a_text_layer_that_traces_back(tmp_path: Path) -> None:
    source = tmp_path / "brief.pdf"
    _write_pdf(source, sample_document("en", 1500, seed=12))
    with Store.open(tmp_path / "ws") as store:
        copies = {
            c["recipient"]: c for c in mark_document(store, source, RECIPIENTS, tmp_path / "out")
        }
        leaked = Path(copies["analyst3"]["file_name"])
        assert leaked.read_bytes().startswith(b"%PDF")
        report = trace_text(store, read_leak(leaked))
    assert [c.recipient for c in report.attributed] == ["analyst3"]


@pytest.mark.skipif(
    any(Path(p).exists() and "DejaVu" not in p for p in FONT_CANDIDATES),
    reason="a CJK font is installed",
)
def test_chinese_pdf_copy_without_a_cjk_font_is_refused_with_the_reason(tmp_path: Path) -> None:
    source = tmp_path / "报告.docx"
    _write_docx(source, sample_document("zh", 1500, seed=13))
    target = tmp_path / "报告.pdf"
    with Store.open(tmp_path / "ws") as store:
        mark_document(store, source, ["a"], tmp_path / "out")  # DOCX: fine
        from molehunt.trace.formats import write_copy

        with pytest.raises(TraceError, match="needs a CJK TrueType font"):
            write_copy(
                b"", "pdf", sample_document("zh", 200, seed=1), lambda _o, t: t, None, str(target)
            )


def test_a_pdf_without_text_layer_says_to_ocr_it(tmp_path: Path) -> None:
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.output(str(tmp_path / "scan.pdf"))
    with pytest.raises(TraceError, match="no text layer"):
        read_leak(tmp_path / "scan.pdf")
