"""The authorisation matrix: every endpoint x every role x no token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.serve.conftest import ROLES, Bench

ANALYSTS = {"analyst", "investigator"}
RULE = "first-removable-copy"
# (method, path, JSON body, roles allowed). {p} = a person's pseudonym, {d} = the queue day,
# {c} = a case opened for the test, {t} = a token id, {r} = a rule id.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("GET", "/api/v1/me", None, set(ROLES)),
    ("GET", "/api/v1/queue", None, ANALYSTS),
    ("GET", "/api/v1/people/{p}", None, ANALYSTS),
    ("GET", "/api/v1/findings/{p}/{d}", None, ANALYSTS),
    ("POST", "/api/v1/reveal", {"person": "{p}", "reason": "matrix test"}, {"investigator"}),
    ("GET", "/api/v1/cases", None, ANALYSTS),
    ("POST", "/api/v1/cases", {"person": "{p}", "day": "{d}", "title": "matrix"}, ANALYSTS),
    ("GET", "/api/v1/cases/{c}", None, ANALYSTS),
    ("POST", "/api/v1/cases/{c}/notes", {"text": "matrix"}, ANALYSTS),
    ("POST", "/api/v1/cases/{c}/verdict", {"verdict": "inconclusive", "reason": "m"}, ANALYSTS),
    ("GET", "/api/v1/audit", None, {"auditor"}),
    ("GET", "/api/v1/tokens", None, {"admin"}),
    ("POST", "/api/v1/tokens", {"name": "new", "role": "analyst"}, {"admin"}),
    ("DELETE", "/api/v1/tokens/{t}", None, {"admin"}),
    ("GET", "/api/v1/rules", None, {"admin"}),
    ("POST", "/api/v1/rules/{r}", {"enabled": True}, {"admin"}),
    ("GET", "/api/v1/data", None, {"admin"}),
]


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def test_every_api_route_is_in_the_matrix(bench: Bench) -> None:
    paths = bench.client.get("/openapi.json").json()["paths"]
    routes = {(m.upper(), p) for p, methods in paths.items() for m in methods}
    listed = {
        (method, path.replace("{p}", "{pseudonym}").replace("{d}", "{day}"))
        for method, path, _, _ in ENDPOINTS
    }
    listed = {
        (m, p.replace("{c}", "{case_id}").replace("{t}", "{token_id}").replace("{r}", "{rule_id}"))
        for m, p in listed
    }
    assert routes == listed, f"routes missing from the matrix: {routes - listed}"


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS, ids=lambda v: str(v))
def test_matrix(
    bench: Bench, method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    queue = bench.client.get("/api/v1/queue?top=1", headers=bench.headers("analyst")).json()
    person, day = queue["entries"][0]["person"], queue["day"]
    case = bench.client.post(
        "/api/v1/cases",
        headers=bench.headers("analyst"),
        json={"person": person, "day": day, "title": "matrix"},
    ).json()
    spare = bench.workbench.create_token("spare", "analyst")[0]
    values = {"p": person, "d": day, "c": str(case["id"]), "t": str(spare), "r": RULE}
    url, payload = path.format(**values), _fill(body, values)
    response = bench.client.request(method, url, json=payload)
    assert response.status_code == 401, f"{method} {path} without a token: {response.status_code}"
    assert response.json()["status"] == 401
    for role in ROLES:
        response = bench.client.request(method, url, json=payload, headers=bench.headers(role))
        if role in allowed:
            assert response.status_code in (200, 201), f"{role} {method} {path}: {response.text}"
        else:
            assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
            assert response.json()["status"] == 403
