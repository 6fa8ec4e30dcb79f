"""Document formats for marking and tracing: plain text, Markdown, DOCX, PDF (text layer).

Every format comes down to one text (the one `find_sites` numbers) plus, for writing a copy, a
way to put changed wording back. DOCX: the body paragraphs' runs joined (paragraphs separated by
a blank line); a site is changed inside its run, so character formatting stays, and a site that
spans two runs is left alone. PDF: the text layer as pypdf extracts it; a copy is a new PDF of
the marked text (the original layout is not kept). DOCX and PDF need the `documents` extra
(python-docx, pypdf, fpdf2); Chinese PDF copies need a CJK TrueType font on the machine.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

from molehunt.errors import TraceError

FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".docx": "docx",
    ".pdf": "pdf",
}
PARAGRAPH_BREAK = "\n\n"
# Fonts with CJK glyphs, tried in order for Chinese PDF copies; then DejaVu for other scripts.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def document_format(path: Path) -> str:
    """Return the format of a file from its extension.

    Raises:
        TraceError: The extension is not one molehunt can mark or trace.
    """
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise TraceError(
            f"{path}: {path.suffix or 'no extension'} is not supported; expected .txt, .md, "
            ".docx or .pdf"
        )
    return found


def _require(module: str, package: str) -> None:
    try:
        __import__(module)
    except ImportError as error:
        raise TraceError(
            f"{package} is needed for this format: pip install 'molehunt[documents]'"
        ) from error


def extract_text(data: bytes, file_format: str, where: str) -> str:
    """Return the text of a document's bytes, as marking and tracing see it.

    Args:
        data: The file's bytes.
        file_format: text, markdown, docx or pdf.
        where: The file's name, for messages.

    Returns:
        The text.

    Raises:
        TraceError: The bytes are not a readable document of that format.
    """
    if file_format in ("text", "markdown"):
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise TraceError(f"{where}: not UTF-8 text (byte {error.start})") from error
    if file_format == "docx":
        return PARAGRAPH_BREAK.join("".join(runs) for runs in _docx_runs(data, where))
    _require("pypdf", "pypdf")
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError) as error:
        raise TraceError(f"{where}: not a readable PDF: {error}") from error
    text = "\n".join(pages)
    if not text.strip():
        raise TraceError(f"{where}: the PDF has no text layer (a scan: OCR it first)")
    return text


def _docx_runs(data: bytes, where: str) -> list[list[str]]:
    _require("docx", "python-docx")
    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(io.BytesIO(data))
    except (OpcError, zipfile.BadZipFile, ValueError, KeyError, OSError) as error:
        raise TraceError(f"{where}: not a readable DOCX: {error}") from error
    return [[run.text for run in paragraph.runs] for paragraph in document.paragraphs]


def run_boundaries(data: bytes, file_format: str, where: str) -> list[int]:
    """Offsets in the extracted text where one DOCX run ends and the next begins ([] otherwise)."""
    if file_format != "docx":
        return []
    boundaries = []
    position = 0
    for paragraph in _docx_runs(data, where):
        for run in paragraph:
            position += len(run)
            boundaries.append(position)
        position += len(PARAGRAPH_BREAK)
    return boundaries


Rewrite = Callable[[int, str], str]
"""rewrite(offset, text): the marked version of `text`, which starts at `offset` of the whole."""


def write_copy(
    data: bytes,
    file_format: str,
    marked_text: str,
    rewrite: Rewrite,
    banner: str | None,
    where: str,
) -> bytes:
    """Return the bytes of a marked copy in the original's format.

    Args:
        data: The original's bytes.
        file_format: text, markdown, docx or pdf.
        marked_text: The whole marked text (text, Markdown, PDF).
        rewrite: Marks a stretch of the original text (DOCX, run by run).
        banner: Classification to print at the top and bottom, if any.
        where: The original's name, for messages.

    Returns:
        The copy's bytes.

    Raises:
        TraceError: A needed package or font is missing.
    """
    if file_format in ("text", "markdown"):
        if banner is not None:
            line = f"**{banner}**" if file_format == "markdown" else banner
            marked_text = f"{line}\n\n{marked_text.rstrip(chr(10))}\n\n{line}\n"
        return marked_text.encode("utf-8")
    if file_format == "docx":
        return _write_docx(data, rewrite, banner, where)
    return _write_pdf(marked_text, banner)


def _write_docx(data: bytes, rewrite: Rewrite, banner: str | None, where: str) -> bytes:
    _require("docx", "python-docx")
    import docx

    document = docx.Document(io.BytesIO(data))
    position = 0
    for paragraph in document.paragraphs:
        for run in paragraph.runs:
            original = run.text
            changed = rewrite(position, original)
            if changed != original:
                run.text = changed
            position += len(original)
        position += len(PARAGRAPH_BREAK)
    if banner is not None:
        paragraphs = document.paragraphs
        if paragraphs:
            paragraphs[0].insert_paragraph_before(banner).runs[0].bold = True
        document.add_paragraph(banner).runs[0].bold = True
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _write_pdf(text: str, banner: str | None) -> bytes:
    _require("fpdf", "fpdf2")
    from fpdf import FPDF

    needs_cjk = any("\u3400" <= ch <= "\u9fff" for ch in text)
    font = next(
        (
            path
            for path in FONT_CANDIDATES
            if Path(path).exists() and (not needs_cjk or "DejaVu" not in path)
        ),
        None,
    )
    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    if font is not None:
        pdf.add_font("body", "", font)
        pdf.set_font("body", size=11)
    elif needs_cjk:
        raise TraceError(
            "a PDF copy of Chinese text needs a CJK TrueType font (e.g. fonts-noto-cjk); "
            "mark the text or DOCX version instead"
        )
    else:
        pdf.set_font("helvetica", size=11)
    body = text if banner is None else f"{banner}\n\n{text.rstrip()}\n\n{banner}"
    for paragraph in body.split("\n"):
        pdf.multi_cell(0, 6, paragraph, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
