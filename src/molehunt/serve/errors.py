"""Errors of the API and the workbench, each with its HTTP status, and the one error shape."""

from __future__ import annotations

from typing import Any

from molehunt.errors import MolehuntError


class ServeError(MolehuntError):
    """A request the workbench cannot answer as asked (HTTP 400)."""

    status = 400


class AuthenticationError(ServeError):
    """No token, or an unknown or revoked one (HTTP 401)."""

    status = 401


class PermissionDeniedError(ServeError):
    """The token's role may not do this (HTTP 403)."""

    status = 403


class NotFoundError(ServeError):
    """No such person, case, finding or page (HTTP 404)."""

    status = 404


class BusyError(ServeError):
    """The workspace cannot be read yet: a writer holds it and no snapshot exists (HTTP 503)."""

    status = 503


def error_body(messages: list[str], status: int) -> dict[str, Any]:
    """Return the one JSON error shape every API error uses.

    Args:
        messages: What went wrong, first the main message.
        status: The HTTP status.

    Returns:
        `{"ok": false, "error": first message, "errors": messages, "status": status}`.

    Examples:
        >>> error_body(["no token"], 401)["error"]
        'no token'
    """
    first = messages[0] if messages else ""
    return {"ok": False, "error": first, "errors": messages, "status": status}
