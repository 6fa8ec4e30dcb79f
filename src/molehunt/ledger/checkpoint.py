"""The workspace's Ed25519 key and signed checkpoints in the C2SP signed-note format.

A checkpoint is the text

    molehunt/<workspace id>
    <tree size>
    <base64 root hash>

    — molehunt/<workspace id> <base64(key id || Ed25519 signature of the three lines)>

where the key id is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), as in
C2SP `signed-note` and `tlog-checkpoint`. The key is generated once per workspace and kept in
`<workspace>/ledger/` (private key readable by the owner only); checkpoints are appended to
`<workspace>/ledger/checkpoints`, outside the database, so rewriting the database alone does
not rewrite them.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from molehunt.errors import LedgerError

LEDGER_DIR = "ledger"
PRIVATE_KEY_FILE = "ed25519.key"
VERIFIER_KEY_FILE = "verifier.key"
CHECKPOINTS_FILE = "checkpoints"
_SIGNATURE_PREFIX = "\u2014 "


@dataclass(frozen=True)
class LedgerKey:
    """A workspace's signing identity.

    Args:
        name: The key name and checkpoint origin (`molehunt/<workspace id>`).
        private: The private key (None when only verifying).
        public: The public key.
    """

    name: str
    private: Ed25519PrivateKey | None
    public: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        """The 4-byte C2SP key id."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(self.name.encode() + b"\n\x01" + raw).digest()[:4]

    @property
    def verifier(self) -> str:
        """The C2SP verifier key: `name+keyid hex+base64(0x01 || public key)`."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        encoded = base64.b64encode(b"\x01" + raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        """Sign `message` (raises LedgerError when only the public key is known)."""
        if self.private is None:
            raise LedgerError(f"no private key for {self.name}: cannot sign")
        return self.private.sign(message)

    def is_valid(self, message: bytes, signature: bytes) -> bool:
        """Whether `signature` is this key's signature of `message`."""
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_verifier(text: str) -> LedgerKey:
    """Read a C2SP verifier key (`name+keyid+base64`).

    Args:
        text: The verifier line.

    Returns:
        A verify-only key.

    Raises:
        LedgerError: The text is not an Ed25519 verifier key.
    """
    try:
        name, key_id, encoded = text.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
        if raw[:1] != b"\x01" or len(raw) != 33:
            raise ValueError("not an Ed25519 key")
        key = LedgerKey(name, None, Ed25519PublicKey.from_public_bytes(raw[1:]))
    except ValueError as error:
        raise LedgerError(f"bad verifier key {text.strip()[:60]!r}: {error}") from error
    if key.key_id.hex() != key_id:
        raise LedgerError(f"verifier key {name}: key id {key_id} does not match the key")
    return key


def load_key(root: Path, *, create: bool) -> LedgerKey | None:
    """Load the workspace's ledger key, generating it on first use when `create` is true.

    Args:
        root: The workspace folder.
        create: Generate a key when there is none.

    Returns:
        The key, or None when there is none and `create` is false.

    Raises:
        LedgerError: The key files are unreadable or disagree with each other.
    """
    folder = root / LEDGER_DIR
    private_path = folder / PRIVATE_KEY_FILE
    verifier_path = folder / VERIFIER_KEY_FILE
    if not private_path.exists():
        if verifier_path.exists():
            raise LedgerError(f"{private_path} is missing (the ledger's signing key was removed)")
        if not create:
            return None
        return _create_key(folder)
    try:
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        verifier = parse_verifier(verifier_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LedgerError(f"cannot read the ledger key in {folder}: {error}") from error
    if not isinstance(private, Ed25519PrivateKey):
        raise LedgerError(f"{private_path} is not an Ed25519 key")
    key = LedgerKey(verifier.name, private, private.public_key())
    if key.verifier != verifier.verifier:
        raise LedgerError(f"{verifier_path} does not belong to {private_path}")
    return key


def _create_key(folder: Path) -> LedgerKey:
    folder.mkdir(parents=True, exist_ok=True)
    private = Ed25519PrivateKey.generate()
    key = LedgerKey(f"molehunt/{uuid.uuid4()}", private, private.public_key())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(folder / PRIVATE_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    (folder / VERIFIER_KEY_FILE).write_text(key.verifier + "\n", encoding="utf-8")
    return key


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head.

    Args:
        origin: The log's name (`molehunt/<workspace id>`).
        size: Number of entries the tree covers.
        root: The Merkle root of those entries.
        signature: Key id (4 bytes) followed by the Ed25519 signature.
    """

    origin: str
    size: int
    root: bytes
    signature: bytes

    @property
    def body(self) -> bytes:
        """The signed text: origin, size and base64 root, one per line."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()

    def to_text(self) -> str:
        """Render as a C2SP signed note."""
        encoded = base64.b64encode(self.signature).decode()
        return f"{self.body.decode()}\n{_SIGNATURE_PREFIX}{self.origin} {encoded}\n"

    def is_signed_by(self, key: LedgerKey) -> bool:
        """Whether the checkpoint carries a valid signature of `key`."""
        return (
            self.origin == key.name
            and self.signature[:4] == key.key_id
            and key.is_valid(self.body, self.signature[4:])
        )


def sign_checkpoint(key: LedgerKey, size: int, root: bytes) -> Checkpoint:
    """Sign a tree head.

    Args:
        key: The workspace key.
        size: Tree size.
        root: Merkle root.

    Returns:
        The checkpoint.
    """
    unsigned = Checkpoint(key.name, size, root, b"")
    return Checkpoint(key.name, size, root, key.key_id + key.sign(unsigned.body))


def parse_checkpoints(text: str, where: str) -> list[Checkpoint]:
    """Read checkpoints (signed notes separated by blank lines) from text.

    Args:
        text: The file's text.
        where: The file's name, for messages.

    Returns:
        The checkpoints in file order.

    Raises:
        LedgerError: A note is malformed (the message names its number).
    """
    found: list[Checkpoint] = []
    lines = text.splitlines()
    position = 0
    while position < len(lines):
        if not lines[position].strip():
            position += 1
            continue
        note = lines[position : position + 5]
        number = len(found) + 1
        try:
            origin, size_text, root_text, blank, signature_line = note
            if blank or not signature_line.startswith(_SIGNATURE_PREFIX):
                raise ValueError("expected a blank line and a signature line")
            name, encoded = signature_line[len(_SIGNATURE_PREFIX) :].split(" ", 1)
            if name != origin:
                raise ValueError(f"signed by {name}, not by the origin {origin}")
            checkpoint = Checkpoint(
                origin,
                int(size_text),
                base64.b64decode(root_text, validate=True),
                base64.b64decode(encoded, validate=True),
            )
        except ValueError as error:
            raise LedgerError(f"{where}: checkpoint {number} is malformed: {error}") from error
        found.append(checkpoint)
        position += 5
    return found
