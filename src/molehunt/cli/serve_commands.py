"""`molehunt serve`, `token create|list|revoke`, `report case`: the investigation workbench."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

import click
from rich.table import Table

from molehunt.cli.base import Context, main, pass_context
from molehunt.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_free(host: str, port: int) -> None:
    """Fail in one line when the address cannot be listened on (uvicorn would log and exit)."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


@main.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, type=int, show_default=True, help="TCP port.")
@pass_context
def serve(obj: Context, host: str, port: int) -> None:
    """Serve the web workbench and the REST API (/api/v1, /openapi.json) on the workspace."""
    import uvicorn

    from molehunt.serve import create_app

    app = create_app(obj.workspace)
    _check_free(host, port)
    if not _is_loopback(host):
        obj.console.print(
            f"warning: listening on {host}, not loopback: put TLS in front of molehunt",
            markup=False,
        )
    obj.console.print(f"molehunt workbench on http://{host}:{port}/ (Ctrl-C stops)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning" if obj.quiet else "info")


@main.group()
def token() -> None:
    """Create, list and revoke access tokens of the workbench and API."""


def _workbench(obj: Context):  # type: ignore[no-untyped-def]
    from molehunt.serve.app import utc_now
    from molehunt.serve.workbench import Workbench
    from molehunt.store.database import DATABASE_FILE

    root = obj.workspace.absolute()
    if not (root / DATABASE_FILE).exists():
        raise ConfigError(f"no molehunt workspace at {root}; run `molehunt ingest` first")
    return Workbench(root, utc_now)


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token (audit log).")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["analyst", "investigator", "auditor", "admin"]),
    help="analyst, investigator (may reveal identities), auditor (audit log) or admin.",
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def token_create(obj: Context, name: str, role: str, as_json: bool) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from molehunt.serve.auth import Principal

    workbench = _workbench(obj)
    token_id, value = workbench.create_token(name, role)
    workbench.record(Principal(0, "cli", "admin"), "create_token", name, {"role": role})
    if as_json:
        click.echo(json.dumps({"id": token_id, "name": name, "role": role, "token": value}))
    else:
        click.echo(value)


@token.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def token_list(obj: Context, as_json: bool) -> None:
    """Show every token: id, name, role, created, revoked (never the token itself)."""
    rows = _workbench(obj).list_tokens()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for name in ("id", "name", "role", "created", "revoked"):
        table.add_column(name)
    for row in rows:
        table.add_row(
            str(row["token_id"]),
            row["name"],
            row["role"],
            row["created"][:19],
            (row["revoked"] or "")[:19],
        )
    obj.console.print(table)


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_context
def token_revoke(obj: Context, token_id: int) -> None:
    """Revoke a token by id: it stops working at once, open sessions included."""
    from molehunt.serve.auth import Principal

    workbench = _workbench(obj)
    workbench.revoke_token(token_id)
    workbench.record(Principal(0, "cli", "admin"), "revoke_token", str(token_id))
    obj.console.print(f"revoked token {token_id}")


@main.group()
def report() -> None:
    """Write reports for the security office."""


@report.command("case")
@click.argument("case_id", type=int)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="FILE.html, or FILE.pdf (printed by headless Chromium).",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh-CN"]),
    default="en",
    show_default=True,
    help="Language of the report.",
)
@pass_context
def report_case(obj: Context, case_id: int, out: Path, lang: str) -> None:
    """Write a case with its timeline, finding, evidence (source file:line) and notes."""
    from molehunt.serve.auth import Principal
    from molehunt.serve.render import html_to_pdf, render_case_report
    from molehunt.store import Store

    if out.suffix.lower() not in (".html", ".pdf"):
        raise ConfigError(f"--out {out}: expected a .html or .pdf file name")
    workbench = _workbench(obj)
    names = workbench.pseudonymizer()
    with Store.open(obj.workspace, read_only=True, memory_limit=obj.memory_limit) as store:
        html = render_case_report(store, workbench, names, case_id, lang, "cli")
    if out.suffix.lower() == ".pdf":
        html_to_pdf(html, out)
    else:
        out.write_text(html, encoding="utf-8")
    workbench.record(Principal(0, "cli", "admin"), "report", str(case_id), {"out": str(out)})
    obj.console.print(f"wrote case {case_id} to {out}", markup=False)


@main.group()
def cases() -> None:
    """List workbench cases; export confirmed ones as labels for `molehunt evaluate`."""


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def cases_list(obj: Context, as_json: bool) -> None:
    """Show every case: id, person (pseudonym), day, title, status, verdict."""
    from molehunt.serve.cases import case_to_dict, list_cases

    workbench = _workbench(obj)
    names = workbench.pseudonymizer()
    rows = [case_to_dict(case, names) for case in list_cases(workbench)]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False)
    for name in ("id", "person", "day", "title", "status", "verdict"):
        table.add_column(name)
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["person"],
            row["day"],
            row["title"],
            row["status"],
            row["verdict"] or "",
        )
    obj.console.print(table)


@cases.command("labels")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_context
def cases_labels(obj: Context, folder: Path) -> None:
    """Write confirmed cases as a CERT-format answer key (FOLDER/insiders.csv, real user ids)."""
    from molehunt.serve.auth import Principal
    from molehunt.serve.labels import write_answer_key

    workbench = _workbench(obj)
    count = write_answer_key(workbench, folder)
    workbench.record(Principal(0, "cli", "admin"), "export_labels", str(folder), {"cases": count})
    obj.console.print(
        f"wrote {count} confirmed case(s) to {folder / 'insiders.csv'}; "
        f"try `molehunt evaluate --answers {folder}`",
        markup=False,
    )
