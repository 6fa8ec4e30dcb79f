"""The investigation workbench: REST API, web pages, cases, access control, reports."""

from __future__ import annotations

from molehunt.serve.app import create_app
from molehunt.serve.errors import error_body

__all__ = ["create_app", "error_body"]
