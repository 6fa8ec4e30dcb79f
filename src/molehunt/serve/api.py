"""The REST API under /api/v1: queue, people, findings, reveal, cases, audit, tokens, data."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field

from molehunt.serve.auth import ADMINS, ANALYSTS, AUDITORS, EVERYONE, INVESTIGATORS, Principal
from molehunt.serve.cases import (
    Case,
    add_note,
    case_to_dict,
    create_case,
    get_case,
    list_cases,
    set_verdict,
)
from molehunt.serve.context import ServeContext, parse_day
from molehunt.serve.errors import ServeError
from molehunt.serve.rules import rules_with_issues, set_rule_enabled
from molehunt.serve.views import identity
from molehunt.store.status import workspace_status

MAX_TOP = 500


class CaseRequest(BaseModel):
    """Open a case on a person's day."""

    person: str = Field(description="The person's pseudonym")
    day: date = Field(description="The finding day")
    title: str = Field(min_length=1, max_length=200)


class NoteRequest(BaseModel):
    """Append a note to a case."""

    text: str = Field(min_length=1, max_length=10_000)


class VerdictRequest(BaseModel):
    """Decide a case; a benign verdict may suppress one rule for the person until a day."""

    verdict: str = Field(description="confirmed | benign | inconclusive")
    reason: str = Field(min_length=1, max_length=2_000)
    suppress_rule: str | None = None
    suppress_until: date | None = None


class RevealRequest(BaseModel):
    """Reveal who a pseudonym is; the reason goes to the audit log."""

    person: str
    reason: str = Field(min_length=3, max_length=2_000)


class RuleRequest(BaseModel):
    """Switch a rule on or off."""

    enabled: bool


class TokenRequest(BaseModel):
    """Create a token."""

    name: str = Field(min_length=1, max_length=100)
    role: str


def context_of(request: Request) -> ServeContext:
    """Return the server's shared state."""
    context: ServeContext = request.app.state.context
    return context


def principal_of(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """Return who sends the request (bearer token); 401 without a valid one."""
    return context_of(request).from_header(authorization)


Ctx = Annotated[ServeContext, Depends(context_of)]
Who = Annotated[Principal, Depends(principal_of)]
# Case and token ids are INTEGER row ids (32 bits): a larger number is a 422 naming the field,
# not a database conversion error (a 500).
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def case_json(context: ServeContext, case: Case) -> dict[str, Any]:
    """Return a case as JSON-ready data, under pseudonyms."""
    return case_to_dict(case, context.names)


def build_api() -> APIRouter:
    """Return the /api/v1 router; every endpoint needs a token and checks the role."""
    api = APIRouter(prefix="/api/v1")

    @api.get("/me", summary="Who the token belongs to")
    def me(who: Who) -> dict[str, Any]:
        who.require(EVERYONE)
        return {"name": who.name, "role": who.role}

    @api.get("/queue", summary="The day's ranked queue, under pseudonyms")
    def queue(
        ctx: Ctx,
        who: Who,
        day: Annotated[str | None, Query(alias="date", description="YYYY-MM-DD")] = None,
        top: Annotated[int, Query(ge=1, le=MAX_TOP)] = 20,
    ) -> dict[str, Any]:
        who.require(ANALYSTS)
        data = ctx.queue(parse_day(day), top)
        return {**data, "stale": ctx.reader.stale}

    @api.get("/people/{pseudonym}", summary="A person: timeline, activity, channels, context")
    def person(
        ctx: Ctx,
        who: Who,
        pseudonym: str,
        day: Annotated[str | None, Query(alias="date")] = None,
    ) -> dict[str, Any]:
        who.require(ANALYSTS)
        data = ctx.person(pseudonym, parse_day(day))
        ctx.workbench.record(who, "view_person", pseudonym, {"day": data["day"]})
        return data

    @api.get("/findings/{pseudonym}/{day}", summary="Why a person scores what they score")
    def finding(ctx: Ctx, who: Who, pseudonym: str, day: str) -> dict[str, Any]:
        who.require(ANALYSTS)
        the_day = parse_day(day)
        if the_day is None:
            raise ServeError("a finding needs a day (YYYY-MM-DD)")
        data = ctx.finding(pseudonym, the_day)
        ctx.workbench.record(who, "view_finding", pseudonym, {"day": day})
        return data

    @api.post("/reveal", summary="Who a pseudonym is (investigators; the reason is audited)")
    def reveal(ctx: Ctx, who: Who, body: RevealRequest) -> dict[str, Any]:
        who.require(INVESTIGATORS)
        user = ctx.user(body.person)
        ctx.workbench.record(who, "reveal", body.person, {"reason": body.reason})
        return {"person": body.person, "identity": identity(ctx.store(), user)}

    @api.get("/cases", summary="Every case, newest first")
    def cases(ctx: Ctx, who: Who) -> list[dict[str, Any]]:
        who.require(ANALYSTS)
        return [case_json(ctx, case) for case in list_cases(ctx.workbench)]

    @api.post("/cases", status_code=201, summary="Open a case on a person's day")
    def open_case(ctx: Ctx, who: Who, body: CaseRequest) -> dict[str, Any]:
        who.require(ANALYSTS)
        case_id = create_case(
            ctx.workbench, who, ctx.user(body.person), body.day, body.title, body.person
        )
        return case_json(ctx, get_case(ctx.workbench, case_id))

    @api.get("/cases/{case_id}", summary="One case with notes and verdicts")
    def case(ctx: Ctx, who: Who, case_id: RowId) -> dict[str, Any]:
        who.require(ANALYSTS)
        return case_json(ctx, get_case(ctx.workbench, case_id))

    @api.post("/cases/{case_id}/notes", status_code=201, summary="Append a note")
    def note(ctx: Ctx, who: Who, case_id: RowId, body: NoteRequest) -> dict[str, Any]:
        who.require(ANALYSTS)
        subject = ctx.names.person(get_case(ctx.workbench, case_id).user)
        add_note(ctx.workbench, who, case_id, body.text, subject)
        return case_json(ctx, get_case(ctx.workbench, case_id))

    @api.post("/cases/{case_id}/verdict", summary="Set a verdict (benign may suppress a rule)")
    def verdict(ctx: Ctx, who: Who, case_id: RowId, body: VerdictRequest) -> dict[str, Any]:
        who.require(ANALYSTS)
        subject = ctx.names.person(get_case(ctx.workbench, case_id).user)
        suppress = None
        if body.suppress_rule or body.suppress_until:
            if not (body.suppress_rule and body.suppress_until):
                raise ServeError("a suppression needs both suppress_rule and suppress_until")
            suppress = (body.suppress_rule, body.suppress_until)
        set_verdict(ctx.workbench, who, case_id, body.verdict, body.reason, subject, suppress)
        return case_json(ctx, get_case(ctx.workbench, case_id))

    @api.get("/audit", summary="The audit log, newest first (auditors)")
    def audit(
        ctx: Ctx, who: Who, limit: Annotated[int, Query(ge=1, le=10_000)] = 200
    ) -> dict[str, Any]:
        who.require(AUDITORS)
        entries = [entry.to_dict() for entry in ctx.workbench.audit_entries(limit)]
        return {"intact": ctx.workbench.verify_audit() is None, "entries": entries}

    @api.get("/tokens", summary="Every token, never the token itself (admins)")
    def tokens(ctx: Ctx, who: Who) -> list[dict[str, Any]]:
        who.require(ADMINS)
        return ctx.workbench.list_tokens()

    @api.post("/tokens", status_code=201, summary="Create a token; it is shown once (admins)")
    def create_token(ctx: Ctx, who: Who, body: TokenRequest) -> dict[str, Any]:
        who.require(ADMINS)
        token_id, token = ctx.workbench.create_token(body.name, body.role)
        ctx.workbench.record(who, "create_token", body.name, {"role": body.role})
        return {"id": token_id, "name": body.name, "role": body.role, "token": token}

    @api.delete("/tokens/{token_id}", summary="Revoke a token (admins)")
    def revoke_token(ctx: Ctx, who: Who, token_id: RowId) -> dict[str, Any]:
        who.require(ADMINS)
        ctx.workbench.revoke_token(token_id)
        ctx.workbench.record(who, "revoke_token", str(token_id))
        return {"id": token_id, "revoked": True}

    @api.get("/rules", summary="The rules in force and lint issues (admins)")
    def rules(ctx: Ctx, who: Who) -> dict[str, Any]:
        who.require(ADMINS)
        found, issues = rules_with_issues(ctx.root)
        return {"rules": found, "issues": issues}

    @api.post("/rules/{rule_id}", summary="Switch a rule on or off (admins; next detect)")
    def switch_rule(ctx: Ctx, who: Who, rule_id: str, body: RuleRequest) -> dict[str, Any]:
        who.require(ADMINS)
        path = set_rule_enabled(ctx.root, rule_id, body.enabled)
        ctx.workbench.record(who, "set_rule", rule_id, {"enabled": body.enabled})
        return {"id": rule_id, "enabled": body.enabled, "file": str(path)}

    @api.get("/data", summary="Sources, events and rejects by reason (admins)")
    def data(ctx: Ctx, who: Who) -> dict[str, Any]:
        who.require(ADMINS)
        return workspace_status(ctx.store())

    return api
