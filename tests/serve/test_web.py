"""The web pages: sign-in with a token, session cookie, CSRF, roles, languages, offline assets."""

from __future__ import annotations

import re

import pytest

from molehunt.serve.render import find_chromium
from tests.serve.conftest import Bench

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PERSON_LINK = re.compile(r'href="/people/(p-[a-z0-9]+)\?date=([0-9-]+)"')


def sign_in(bench: Bench, role: str) -> None:
    response = bench.client.post(
        "/login", data={"token": bench.tokens[role]}, follow_redirects=False
    )
    assert response.status_code == 303, response.text


def test_pages_need_a_session(bench: Bench) -> None:
    response = bench.client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_sign_in_sets_an_http_only_strict_cookie(bench: Bench) -> None:
    response = bench.client.post(
        "/login", data={"token": bench.tokens["analyst"]}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"].lower()
    assert "molehunt_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert bench.tokens["analyst"].lower() not in cookie, "the cookie must not carry the token"


def test_bad_token_is_refused(bench: Bench) -> None:
    response = bench.client.post("/login", data={"token": "mh_wrong"})
    assert response.status_code == 401 and "Unknown or revoked token" in response.text


def test_forms_without_the_csrf_token_are_refused(bench: Bench) -> None:
    sign_in(bench, "analyst")
    queue = bench.client.get("/").text
    person, day = PERSON_LINK.search(queue).groups()  # type: ignore[union-attr]
    refused = bench.client.post("/cases", data={"person": person, "day": day, "title": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert bench.client.get("/api/v1/cases", headers=bench.headers("analyst")).json() == []
    csrf = CSRF.search(queue).group(1)  # type: ignore[union-attr]
    opened = bench.client.post(
        "/cases",
        data={"person": person, "day": day, "title": "x", "csrf": csrf},
        follow_redirects=False,
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/cases/1"


def test_analyst_walks_queue_person_finding_case(bench: Bench) -> None:
    sign_in(bench, "analyst")
    queue = bench.client.get("/")
    assert queue.status_code == 200 and "<svg" in queue.text
    person, day = PERSON_LINK.search(queue.text).groups()  # type: ignore[union-attr]
    page = bench.client.get(f"/people/{person}?date={day}")
    assert page.status_code == 200 and page.text.count("<svg") >= 2
    finding = bench.client.get(f"/findings/{person}/{day}")
    assert finding.status_code == 200 and 'id="open-case"' in finding.text
    for text in (queue.text, page.text, finding.text):
        assert not [u for u in bench.users if u in text], "a user id leaked into a page"
    csrf = CSRF.search(finding.text).group(1)  # type: ignore[union-attr]
    bench.client.post("/cases", data={"person": person, "day": day, "title": "t", "csrf": csrf})
    bench.client.post("/cases/1/notes", data={"text": "looked at USB", "csrf": csrf})
    bench.client.post(
        "/cases/1/verdict", data={"verdict": "inconclusive", "reason": "need HR", "csrf": csrf}
    )
    case = bench.client.get("/cases/1").text
    assert "looked at USB" in case and 'id="case-verdict">inconclusive' in case
    report = bench.client.get("/cases/1/report")
    assert report.status_code == 200 and "looked at USB" in report.text


@pytest.mark.parametrize(
    ("role", "landing"), [("auditor", "/audit"), ("admin", "/admin"), ("analyst", "/")]
)
def test_each_role_lands_on_its_page(bench: Bench, role: str, landing: str) -> None:
    sign_in(bench, role)
    response = bench.client.get("/", follow_redirects=True)
    assert response.status_code == 200 and str(response.url).endswith(landing)


def test_auditor_cannot_open_the_queue_pages(bench: Bench) -> None:
    sign_in(bench, "auditor")
    assert bench.client.get("/cases").status_code == 403


def test_reveal_form_only_for_investigators(bench: Bench) -> None:
    sign_in(bench, "analyst")
    person, day = PERSON_LINK.search(bench.client.get("/").text).groups()  # type: ignore[union-attr]
    page = bench.client.get(f"/people/{person}").text
    assert 'action="/reveal"' not in page
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    refused = bench.client.post("/reveal", data={"person": person, "reason": "x y", "csrf": csrf})
    assert refused.status_code == 403


def test_chinese_by_accept_language_and_by_switch(bench: Bench) -> None:
    sign_in(bench, "analyst")
    chinese = bench.client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text and "队列" in chinese.text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", chinese.text), "dates in Chinese form"
    english = bench.client.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in english.text and "Queue for" in english.text
    sticky = bench.client.get("/", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in sticky.text, "the switch is remembered over Accept-Language"


def test_pages_load_nothing_from_elsewhere(bench: Bench) -> None:
    sign_in(bench, "analyst")
    html = bench.client.get("/").text
    html = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.findall(r"""(?:src|href)=["'](?:https?:)?//""", html)
    assert bench.client.get("/static/style.css").status_code == 200
    policy = bench.client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'none'" in policy


def test_admin_page_switches_a_rule_with_csrf(bench: Bench) -> None:
    sign_in(bench, "admin")
    admin = bench.client.get("/admin").text
    assert 'id="rules"' in admin and 'id="lint"' not in admin, "the shipped rules lint clean"
    csrf = CSRF.search(admin).group(1)  # type: ignore[union-attr]
    refused = bench.client.post("/admin/rules/first-removable-copy", data={"enabled": "false"})
    assert refused.status_code == 403
    bench.client.post("/admin/rules/first-removable-copy", data={"enabled": "false", "csrf": csrf})
    row = re.search(r"first-removable-copy</td>.*?</tr>", bench.client.get("/admin").text, re.S)
    assert row and ">Enable</button>" in row.group(0)


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed")
def test_case_report_as_pdf_from_the_page(bench: Bench) -> None:
    sign_in(bench, "analyst")
    person, day = PERSON_LINK.search(bench.client.get("/").text).groups()  # type: ignore[union-attr]
    csrf = CSRF.search(bench.client.get("/cases").text).group(1)  # type: ignore[union-attr]
    bench.client.post("/cases", data={"person": person, "day": day, "title": "t", "csrf": csrf})
    pdf = bench.client.get("/cases/1/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"


def test_investigator_reveals_on_the_person_page_with_a_reason(bench: Bench) -> None:
    sign_in(bench, "investigator")
    person, day = PERSON_LINK.search(bench.client.get("/").text).groups()  # type: ignore[union-attr]
    page = bench.client.get(f"/people/{person}").text
    assert 'action="/reveal"' in page and 'id="identity"' not in page
    csrf = CSRF.search(page).group(1)  # type: ignore[union-attr]
    short = bench.client.post("/reveal", data={"person": person, "reason": "x", "csrf": csrf})
    assert short.status_code == 400 and "needs a reason" in short.text
    shown = bench.client.post(
        "/reveal", data={"person": person, "reason": "case review", "date": day, "csrf": csrf}
    )
    assert shown.status_code == 200 and 'id="identity"' in shown.text
    assert any(user in shown.text for user in bench.users), "the identity is on the page"
    entry = next(e for e in bench.workbench.audit_entries() if e.action == "reveal")
    assert (entry.subject, entry.detail) == (person, {"reason": "case review"})


def test_sign_out_needs_csrf_and_ends_the_session(bench: Bench) -> None:
    sign_in(bench, "analyst")
    csrf = CSRF.search(bench.client.get("/").text).group(1)  # type: ignore[union-attr]
    assert bench.client.post("/logout", data={}).status_code == 403
    out = bench.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert bench.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_language_switch_keeps_the_page_and_its_query(bench: Bench) -> None:
    sign_in(bench, "analyst")
    person, day = PERSON_LINK.search(bench.client.get("/").text).groups()  # type: ignore[union-attr]
    page = bench.client.get(f"/people/{person}?date={day}").text
    link = re.search(r'href="([^"]+)" hreflang="zh-CN"', page).group(1)  # type: ignore[union-attr]
    assert link == f"/people/{person}?date={day}&amp;lang=zh-CN"
