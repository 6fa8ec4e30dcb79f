"""Property-based API testing with Schemathesis: no request the schema allows is a server error."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from molehunt.serve import create_app
from molehunt.serve.workbench import Workbench
from tests.serve.conftest import ROLES, Clock


@pytest.fixture(scope="module")
def fuzzed(detected: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The app on a private workspace copy, and a token per role."""
    workspace = tmp_path_factory.mktemp("fuzz") / "ws"
    shutil.copytree(detected, workspace)
    clock = Clock()
    workbench = Workbench(workspace, clock)
    tokens = {role: workbench.create_token(f"fuzz-{role}", role)[1] for role in ROLES}
    app: FastAPI = create_app(workspace, now=clock, check_interval=0.0)
    app.state.fuzz_tokens = tokens
    yield app


@pytest.fixture(scope="module")
def api_schema(fuzzed: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed)


schema = schemathesis.pytest.from_fixture("api_schema")


def _role_for(path: str) -> str:
    if path.startswith(("/api/v1/tokens", "/api/v1/rules", "/api/v1/data")):
        return "admin"
    if path.startswith("/api/v1/audit"):
        return "auditor"
    return "investigator"


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_is_a_server_error(case: Any, fuzzed: FastAPI) -> None:
    token = fuzzed.state.fuzz_tokens[_role_for(case.path)]
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
