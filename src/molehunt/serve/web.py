"""The web pages: sign-in, queue, person, finding, cases, audit, admin (server-rendered)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from molehunt.detect.loader import list_rules, workspace_rule_paths
from molehunt.serve.auth import (
    ADMINS,
    ANALYSTS,
    AUDITORS,
    INVESTIGATORS,
    SESSION_SECONDS,
    Principal,
    csrf_token,
    session_value,
)
from molehunt.serve.cases import (
    add_note,
    case_to_dict,
    create_case,
    get_case,
    list_cases,
    set_verdict,
)
from molehunt.serve.context import ServeContext, parse_day
from molehunt.serve.errors import AuthenticationError, PermissionDeniedError, ServeError
from molehunt.serve.i18n import LOCALE_COOKIE, LOCALES, Translator, choose_locale
from molehunt.serve.render import (
    contribution_rows,
    html_to_pdf,
    render_case_report,
    render_page,
)
from molehunt.serve.rules import rules_with_issues, set_rule_enabled
from molehunt.serve.views import identity
from molehunt.store.status import workspace_status

SESSION_COOKIE = "molehunt_session"


def context_of(request: Request) -> ServeContext:
    """Return the server's shared state."""
    context: ServeContext = request.app.state.context
    return context


def signed_in(request: Request) -> Principal:
    """Return who holds the session cookie; 401 (a redirect to sign-in) without one."""
    return context_of(request).from_session(request.cookies.get(SESSION_COOKIE))


Ctx = Annotated[ServeContext, Depends(context_of)]
Who = Annotated[Principal, Depends(signed_in)]
Csrf = Annotated[str, Form()]


def translator(request: Request) -> Translator:
    """Return the request's locale: `?lang=`, the cookie, then `Accept-Language`."""
    return Translator(
        choose_locale(
            request.query_params.get("lang"),
            request.cookies.get(LOCALE_COOKIE),
            request.headers.get("accept-language"),
        )
    )


def page(
    request: Request, name: str, who: Principal | None, status: int = 200, **values: Any
) -> HTMLResponse:
    """Render a page for the signed-in person, in their locale, with the form CSRF token."""
    t = translator(request)
    session = request.cookies.get(SESSION_COOKIE) or ""
    csrf = csrf_token(context_of(request).names, session) if who else ""
    stale = context_of(request).reader.stale
    # The language switch keeps the page and its query (a relative link: nothing absolute).
    switch = {
        locale: request.url.path + "?" + urlencode({**request.query_params, "lang": locale})
        for locale in LOCALES
    }
    html = render_page(name, t=t, who=who, csrf=csrf, stale=stale, switch=switch, **values)
    response = HTMLResponse(html, status_code=status)
    if request.query_params.get("lang") in LOCALES:
        response.set_cookie(
            LOCALE_COOKIE, t.locale, max_age=365 * 86400, httponly=True, samesite="strict"
        )
    return response


def check_csrf(request: Request, sent: str) -> None:
    """Refuse a form whose CSRF token is not the session's.

    Raises:
        PermissionDeniedError: Missing or wrong token.
    """
    session = request.cookies.get(SESSION_COOKIE) or ""
    if not sent or sent != csrf_token(context_of(request).names, session):
        raise PermissionDeniedError("bad or missing CSRF token; reload the page and try again")


def see_other(url: str) -> RedirectResponse:
    """Redirect after a form post (303: the browser follows with GET)."""
    return RedirectResponse(url, status_code=303)


def build_web() -> APIRouter:
    """Return the router of the HTML pages (not in the OpenAPI schema)."""
    web = APIRouter(include_in_schema=False)

    @web.get("/login")
    def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", None)

    @web.post("/login")
    def login(request: Request, ctx: Ctx, token: Annotated[str, Form()] = "") -> Response:
        try:
            who = ctx.workbench.principal(token=token.strip())
        except AuthenticationError:
            return page(request, "login.html", None, 401, error=translator(request)("login.bad"))
        expires = int(ctx.now().timestamp()) + SESSION_SECONDS
        ctx.workbench.record(who, "sign_in", who.name)
        response = see_other("/")
        response.set_cookie(
            SESSION_COOKIE,
            session_value(ctx.names, who.token_id, expires),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
        )
        return response

    @web.post("/logout")
    def logout(request: Request, who: Who, csrf: Csrf = "") -> Response:
        check_csrf(request, csrf)
        response = see_other("/login")
        response.delete_cookie(SESSION_COOKIE)
        return response

    @web.get("/")
    def home(request: Request, ctx: Ctx, who: Who, date: str = "", top: int = 20) -> Response:
        if who.role == "auditor":
            return see_other("/audit")
        if who.role == "admin":
            return see_other("/admin")
        who.require(ANALYSTS)
        top = max(1, min(top, 500))
        data = ctx.queue(parse_day(date), top)
        titles = {rule.id: rule.title for rule in list_rules(workspace_rule_paths(ctx.root))}
        return page(request, "queue.html", who, queue=data, top=top, titles=titles)

    def person_page(
        request: Request, ctx: Ctx, who: Principal, pseudonym: str, day: str, revealed: Any
    ) -> HTMLResponse:
        data = ctx.person(pseudonym, parse_day(day))
        ctx.workbench.record(who, "view_person", pseudonym, {"day": data["day"]})
        t = translator(request)
        rows = [
            (t("feature." + c["feature"]), [c["value"], c["own_mean"], c["peer_mean"]])
            for c in data["channels"]
        ]
        weekdays = [t(f"weekday.{n}") for n in range(7)]
        hr_marks = [(e["day"], t("hr." + e["kind"])) for e in data["hr_events"]]
        trips = [
            (
                v["depart"],
                v["return"] or data["day"],
                ", ".join(v["countries"]),
                not v["declared"],
            )
            for v in data["travel"]
        ]
        return page(
            request,
            "person.html",
            who,
            p=data,
            channel_rows=rows,
            weekdays=weekdays,
            revealed=revealed,
            hr_marks=hr_marks,
            trips=trips,
        )

    @web.get("/people/{pseudonym}")
    def person(request: Request, ctx: Ctx, who: Who, pseudonym: str, date: str = "") -> Response:
        who.require(ANALYSTS)
        return person_page(request, ctx, who, pseudonym, date, None)

    @web.post("/reveal")
    def reveal(
        request: Request,
        ctx: Ctx,
        who: Who,
        person: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        date: Annotated[str, Form()] = "",
        csrf: Csrf = "",
    ) -> Response:
        check_csrf(request, csrf)
        who.require(INVESTIGATORS)
        if len(reason.strip()) < 3:
            raise ServeError("a reveal needs a reason")
        user = ctx.user(person)
        ctx.workbench.record(who, "reveal", person, {"reason": reason.strip()})
        return person_page(request, ctx, who, person, date, identity(ctx.store(), user))

    @web.get("/findings/{pseudonym}/{day}")
    def finding(request: Request, ctx: Ctx, who: Who, pseudonym: str, day: str) -> Response:
        who.require(ANALYSTS)
        the_day = parse_day(day)
        if the_day is None:
            raise ServeError("a finding needs a day")
        data = ctx.finding(pseudonym, the_day)
        ctx.workbench.record(who, "view_finding", pseudonym, {"day": day})
        return page(
            request,
            "finding.html",
            who,
            f=data,
            contribution_rows=contribution_rows(data),
            report=False,
        )

    @web.get("/cases")
    def cases(request: Request, ctx: Ctx, who: Who) -> Response:
        who.require(ANALYSTS)
        found = [case_to_dict(c, ctx.names) for c in list_cases(ctx.workbench)]
        return page(request, "cases.html", who, cases=found)

    @web.post("/cases")
    def open_case(
        request: Request,
        ctx: Ctx,
        who: Who,
        person: Annotated[str, Form()],
        day: Annotated[str, Form()],
        title: Annotated[str, Form()] = "",
        csrf: Csrf = "",
    ) -> Response:
        check_csrf(request, csrf)
        who.require(ANALYSTS)
        the_day = parse_day(day)
        if the_day is None:
            raise ServeError("a case needs a day")
        case_id = create_case(ctx.workbench, who, ctx.user(person), the_day, title, person)
        return see_other(f"/cases/{case_id}")

    @web.get("/cases/{case_id}")
    def case(request: Request, ctx: Ctx, who: Who, case_id: int) -> Response:
        who.require(ANALYSTS)
        data = case_to_dict(get_case(ctx.workbench, case_id), ctx.names)
        return page(request, "case.html", who, c=data)

    @web.post("/cases/{case_id}/notes")
    def note(
        request: Request,
        ctx: Ctx,
        who: Who,
        case_id: int,
        text: Annotated[str, Form()] = "",
        csrf: Csrf = "",
    ) -> Response:
        check_csrf(request, csrf)
        who.require(ANALYSTS)
        subject = ctx.names.person(get_case(ctx.workbench, case_id).user)
        add_note(ctx.workbench, who, case_id, text, subject)
        return see_other(f"/cases/{case_id}")

    @web.post("/cases/{case_id}/verdict")
    def verdict(
        request: Request,
        ctx: Ctx,
        who: Who,
        case_id: int,
        verdict: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        suppress_rule: Annotated[str, Form()] = "",
        suppress_until: Annotated[str, Form()] = "",
        csrf: Csrf = "",
    ) -> Response:
        check_csrf(request, csrf)
        who.require(ANALYSTS)
        subject = ctx.names.person(get_case(ctx.workbench, case_id).user)
        until = parse_day(suppress_until)
        if bool(suppress_rule.strip()) != (until is not None):
            raise ServeError("a suppression needs both a rule and an end day")
        scope = (suppress_rule.strip(), until) if until is not None else None
        set_verdict(ctx.workbench, who, case_id, verdict, reason, subject, scope)
        return see_other(f"/cases/{case_id}")

    @web.get("/cases/{case_id}/report")
    def report(request: Request, ctx: Ctx, who: Who, case_id: int) -> Response:
        who.require(ANALYSTS)
        locale = translator(request).locale
        html = render_case_report(ctx.store(), ctx.workbench, ctx.names, case_id, locale, who.name)
        ctx.workbench.record(who, "report", str(case_id))
        return HTMLResponse(html)

    @web.get("/cases/{case_id}/report.pdf")
    def report_pdf(request: Request, ctx: Ctx, who: Who, case_id: int) -> Response:
        who.require(ANALYSTS)
        locale = translator(request).locale
        html = render_case_report(ctx.store(), ctx.workbench, ctx.names, case_id, locale, who.name)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / f"case-{case_id}.pdf"
            html_to_pdf(html, out)
            pdf = out.read_bytes()
        ctx.workbench.record(who, "report", str(case_id), {"format": "pdf"})
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="case-{case_id}.pdf"'},
        )

    @web.get("/audit")
    def audit(request: Request, ctx: Ctx, who: Who) -> Response:
        who.require(AUDITORS)
        intact = ctx.workbench.verify_audit() is None
        entries = ctx.workbench.audit_entries(500)
        return page(request, "audit.html", who, entries=entries, intact=intact)

    @web.get("/admin")
    def admin(request: Request, ctx: Ctx, who: Who) -> Response:
        who.require(ADMINS)
        rules, issues = rules_with_issues(ctx.root)
        return page(
            request,
            "admin.html",
            who,
            tokens=ctx.workbench.list_tokens(),
            rules=rules,
            issues=issues,
            data=workspace_status(ctx.store()),
        )

    @web.post("/admin/rules/{rule_id}")
    def switch_rule(
        request: Request,
        ctx: Ctx,
        who: Who,
        rule_id: str,
        enabled: Annotated[str, Form()] = "",
        csrf: Csrf = "",
    ) -> Response:
        check_csrf(request, csrf)
        who.require(ADMINS)
        set_rule_enabled(ctx.root, rule_id, enabled == "true")
        ctx.workbench.record(who, "set_rule", rule_id, {"enabled": enabled == "true"})
        return see_other("/admin")

    return web
