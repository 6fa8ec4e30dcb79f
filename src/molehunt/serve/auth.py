"""Roles, bearer tokens (kept only as hashes), keyed pseudonyms and signed sessions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from molehunt.serve.errors import AuthenticationError, PermissionDeniedError

ROLES = ("analyst", "investigator", "auditor", "admin")
# Who may do what. Analysts work under pseudonyms; investigators may also reveal an identity;
# auditors read only the audit log; admins manage tokens, rules and data.
ANALYSTS = frozenset({"analyst", "investigator"})
INVESTIGATORS = frozenset({"investigator"})
AUDITORS = frozenset({"auditor"})
ADMINS = frozenset({"admin"})
EVERYONE = frozenset(ROLES)

TOKEN_PREFIX = "mh_"
SESSION_SECONDS = 8 * 3600
_EMAIL = re.compile(r"([A-Za-z0-9._%+-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


@dataclass(frozen=True)
class Principal:
    """Who makes a request: the token's id, name and role.

    Args:
        token_id: The `tokens` row.
        name: The token's name (shown in the audit log).
        role: One of `ROLES`.
    """

    token_id: int
    name: str
    role: str

    def require(self, allowed: frozenset[str]) -> None:
        """Refuse unless the role is in `allowed`.

        Args:
            allowed: Roles that may go on.

        Raises:
            PermissionDeniedError: The role is not allowed.
        """
        if self.role not in allowed:
            raise PermissionDeniedError(
                f"role {self.role!r} may not do this; needs one of: {', '.join(sorted(allowed))}"
            )


def new_token() -> str:
    """Return a new random bearer token (shown once, never stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the stored form of a token: its SHA-256, hex.

    Examples:
        >>> len(hash_token("mh_x"))
        64
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(header: str | None) -> str:
    """Return the token of an `Authorization: Bearer ...` header.

    Raises:
        AuthenticationError: No header, or not a bearer token.
    """
    if not header:
        raise AuthenticationError("no token: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("expected 'Authorization: Bearer <token>'")
    return token.strip()


class Pseudonymizer:
    """Stable keyed pseudonyms (HMAC-SHA256 with the workspace secret) for people and hosts.

    Args:
        secret: The workspace's secret key (bytes).
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _code(self, kind: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).digest()
        return base64.b32encode(digest[:10]).decode("ascii").lower()[:12]

    def person(self, user: str) -> str:
        """Return the pseudonym of a user id (`p-` + 12 characters)."""
        return "p-" + self._code("person", user)

    def host(self, host: str | None) -> str | None:
        """Return the pseudonym of a host name (`h-` + 12 characters)."""
        return None if host is None else "h-" + self._code("host", host)

    def text(self, text: str | None) -> str | None:
        """Replace the local part of every e-mail address in `text` by a pseudonym.

        The domain stays: an external or private domain is evidence, the mailbox names a person.
        """
        if text is None:
            return None
        return _EMAIL.sub(lambda m: "e-" + self._code("mail", m.group(1)) + "@" + m.group(2), text)

    def sign(self, message: str) -> str:
        """Return a hex HMAC of `message` under a key derived from the secret (sessions, CSRF)."""
        return hmac.new(self._secret, b"sign:" + message.encode(), hashlib.sha256).hexdigest()


def session_value(pseudonymizer: Pseudonymizer, token_id: int, expires: int) -> str:
    """Return a signed session cookie value for a token that expires at `expires` (epoch s)."""
    body = f"{token_id}.{expires}"
    return f"{body}.{pseudonymizer.sign(body)}"


def parse_session(pseudonymizer: Pseudonymizer, value: str | None, now: float) -> int:
    """Return the token id of a valid session cookie.

    Raises:
        AuthenticationError: Missing, forged or expired.
    """
    if not value:
        raise AuthenticationError("not signed in")
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise AuthenticationError("bad session; sign in again")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(pseudonymizer.sign(body), parts[2]):
        raise AuthenticationError("bad session; sign in again")
    if int(parts[1]) < now:
        raise AuthenticationError("session expired; sign in again")
    return int(parts[0])


def csrf_token(pseudonymizer: Pseudonymizer, session: str) -> str:
    """Return the CSRF token that forms of this session must carry."""
    return pseudonymizer.sign("csrf:" + session)[:32]
