"""`molehunt token`, `report case` and `serve` on the command line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from molehunt.cli import main
from molehunt.evaluate.answers import load_answers
from molehunt.serve.render import find_chromium
from tests.serve.conftest import Bench


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_token_create_list_revoke(bench: Bench) -> None:
    ws = str(bench.workspace)
    code, out, _ = run("-w", ws, "token", "create", "--name", "lee", "--role", "auditor", "--json")
    assert code == 0
    created = json.loads(out)
    assert created["token"].startswith("mh_") and created["role"] == "auditor"
    code, out, _ = run("-w", ws, "token", "list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["lee"]["revoked"] is None and created["token"] not in out
    audit = bench.client.get(
        "/api/v1/audit", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert audit.status_code == 200
    code, out, _ = run("-w", ws, "token", "revoke", str(created["id"]))
    assert code == 0 and f"revoked token {created['id']}" in out
    assert json.loads(run("-w", ws, "token", "list", "--json")[1])[-1]["revoked"]
    again = bench.client.get(
        "/api/v1/audit", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert again.status_code == 401


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("token", "create", "--name", "x", "--role", "boss"), 2, "Invalid value for '--role'"),
        (("token", "revoke", "999"), 1, "no token with id 999"),
        (("report", "case", "5", "--out", "{tmp}/r.html"), 1, "no case 5"),
        (("report", "case", "1", "--out", "{tmp}/r.doc"), 1, "expected a .html or .pdf"),
    ],
)
def test_user_errors_are_one_line(
    bench: Bench, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    exit_code, _, err = run("-w", str(bench.workspace), *argv)
    assert exit_code == code and message in err, err
    if code == 1:
        assert len(err.strip().splitlines()) == 1


def test_serve_and_token_without_a_workspace_fail_in_one_line(tmp_path: Path) -> None:
    for args in (("serve",), ("token", "list")):
        code, _, err = run("-w", str(tmp_path / "none"), *args)
        assert code == 1 and "no molehunt workspace" in err and len(err.strip().splitlines()) == 1


def test_serve_on_a_busy_port_fails_in_one_line(bench: Bench) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        code, _, err = run("-w", str(bench.workspace), "serve", "--port", port)
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in err, err
    assert len(err.strip().splitlines()) == 1


def _open_case(bench: Bench) -> str:
    headers = bench.headers("analyst")
    queue = bench.client.get("/api/v1/queue?top=40", headers=headers).json()
    hit = next(e for e in queue["entries"] if e["rule_ids"])
    bench.client.post(
        "/api/v1/cases",
        headers=headers,
        json={"person": hit["person"], "day": queue["day"], "title": "Removable media"},
    )
    bench.client.post("/api/v1/cases/1/notes", headers=headers, json={"text": "spoke to IT"})
    return str(hit["person"])


def test_report_case_html_is_self_contained_with_evidence(bench: Bench, tmp_path: Path) -> None:
    person = _open_case(bench)
    out = tmp_path / "case-1.html"
    code, _, err = run("-w", str(bench.workspace), "report", "case", "1", "--out", str(out))
    assert code == 0, err
    html = out.read_text(encoding="utf-8")
    assert "Removable media" in html and "spoke to IT" in html and person in html
    assert "<svg" in html and "<link" not in html and "<script" not in html
    assert "Source:line" in html, "evidence rows name their source file and line"
    assert not [u for u in bench.users if u in html], "a user id leaked into the report"
    code, _, _ = run(
        "-w", str(bench.workspace), "report", "case", "1", "--out", str(out), "--lang", "zh-CN"
    )
    assert code == 0 and "案件报告" in out.read_text(encoding="utf-8")


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed")
def test_report_case_pdf(bench: Bench, tmp_path: Path) -> None:
    _open_case(bench)
    out = tmp_path / "case-1.pdf"
    code, _, err = run("-w", str(bench.workspace), "report", "case", "1", "--out", str(out))
    assert code == 0, err
    assert out.read_bytes().startswith(b"%PDF")


def test_confirmed_cases_become_labels_evaluate_reads(bench: Bench, tmp_path: Path) -> None:
    person = _open_case(bench)
    headers = bench.headers("analyst")
    bench.client.post(
        "/api/v1/cases/1/verdict", headers=headers, json={"verdict": "confirmed", "reason": "r"}
    )
    day = bench.client.get("/api/v1/cases/1", headers=headers).json()["day"]
    code, out, _ = run("-w", str(bench.workspace), "cases", "list", "--json")
    assert code == 0 and json.loads(out)[0]["verdict"] == "confirmed"
    code, out, err = run("-w", str(bench.workspace), "cases", "labels", str(tmp_path / "key"))
    assert code == 0 and "wrote 1 confirmed case(s)" in out, err
    incidents = load_answers(tmp_path / "key")
    assert [(i.scenario, i.start.date().isoformat()) for i in incidents] == [("case-1", day)]
    assert bench.workbench.pseudonymizer().person(incidents[0].user) == person


def test_token_changes_from_the_command_line_are_audited(bench: Bench) -> None:
    ws = str(bench.workspace)
    created = json.loads(
        run("-w", ws, "token", "create", "--name", "kim", "--role", "analyst", "--json")[1]
    )
    run("-w", ws, "token", "revoke", str(created["id"]))
    actions = [(e.actor, e.action, e.subject) for e in bench.workbench.audit_entries()[:2]]
    assert actions == [("cli", "revoke_token", str(created["id"])), ("cli", "create_token", "kim")]
