"""Jinja2 templates of the workbench and the case report (HTML, and PDF through Chromium)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from molehunt.errors import MolehuntError
from molehunt.serve import charts
from molehunt.serve.auth import Pseudonymizer
from molehunt.serve.cases import VERDICTS, case_to_dict, get_case
from molehunt.serve.i18n import Translator
from molehunt.serve.views import finding_data, person_data
from molehunt.serve.workbench import Workbench
from molehunt.store.database import Store

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT = 120


@cache
def environment() -> Environment:
    """Return the template environment (autoescaped; templates ship in the package)."""
    folder = Path(str(resources.files("molehunt.serve") / "templates"))
    env = Environment(loader=FileSystemLoader(folder), autoescape=select_autoescape(["html"]))
    env.globals["charts"] = charts
    env.globals["verdicts"] = VERDICTS
    return env


def stylesheet() -> str:
    """Return the workbench's stylesheet (inlined into reports)."""
    return (resources.files("molehunt.serve") / "static" / "style.css").read_text("utf-8")


def render_page(name: str, **values: Any) -> str:
    """Render a template with `values`."""
    return environment().get_template(name).render(**values)


def contribution_rows(finding: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """Return the contribution chart of a finding: points per rule hit, and the model's."""
    rows: list[tuple[str, list[float | None]]] = [
        (str(r["rule_id"]), [float(r["weight"])]) for r in finding["findings"]
    ]
    rows.append(("model", [max(0.0, float(finding["model_score"]) - 0.995) / 0.005 * 20]))
    return rows


def render_case_report(
    store: Store,
    workbench: Workbench,
    names: Pseudonymizer,
    case_id: int,
    locale: str,
    author: str,
) -> str:
    """Return a case as one self-contained HTML page: timeline, finding, evidence, notes.

    Args:
        store: The workspace (read-only is enough).
        workbench: Cases and notes.
        names: Pseudonyms.
        case_id: The case.
        locale: `en` or `zh-CN`.
        author: Who asked for the report (printed on it).

    Returns:
        HTML with the stylesheet inlined and charts as inline SVG (no external resources).

    Raises:
        NotFoundError: No such case.
    """
    case = get_case(workbench, case_id)
    pseudonym = names.person(case.user)
    data = case_to_dict(case, names)
    finding: dict[str, Any] | None = None
    finding_error = ""
    try:
        finding = finding_data(store, names, case.user, case.day)
    except MolehuntError as error:
        finding_error = str(error).replace(case.user, pseudonym)
    sources = {int(i): str(p) for i, p in store.query("SELECT source_id, path FROM sources")}
    return render_page(
        "report.html",
        t=Translator(locale),
        c=data,
        p=person_data(store, names, case.user, case.day),
        f=finding,
        finding_error=finding_error,
        contribution_rows=contribution_rows(finding) if finding else [],
        sources=sources,
        css=stylesheet(),
        generated=workbench.now().isoformat(timespec="seconds"),
        author=author,
    )


def find_chromium() -> str | None:
    """Return the path of a Chromium executable, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, out: Path) -> None:
    """Print HTML to PDF with headless Chromium (offline: the page has no external resources).

    Raises:
        MolehuntError: No Chromium, or it failed.
    """
    chromium = find_chromium()
    if chromium is None:
        raise MolehuntError("PDF needs Chromium (apt-get install chromium); write .html instead")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={folder}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out.absolute()}",
            page.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT)
    if result.returncode != 0 or not out.exists():
        raise MolehuntError(f"Chromium could not print {out}: {result.stderr.strip()[-300:]}")
