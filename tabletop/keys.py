"""Signing keys: the Ed25519 key pair of the person running sessions, and the public keys a verifier trusts.

`tabletop keys init` makes the pair in the user's config folder (`$XDG_CONFIG_HOME/tabletop`,
else `~/.config/tabletop`): `signing-key.pem` (the private key, PKCS#8, mode 0600, in a folder
of mode 0700) and `signing-key.pub` (one line, `ed25519 KEY NAME`). The first session creates
the pair when there is none, so a first `make run` needs no extra step. `TABLETOP_SIGNING_KEY`
names another private key file to sign with (how the committed samples are signed).

A verifier trusts the user's own public key and the keys listed in the nearest `trusted_keys`
file above the transcript (an organisation keeps it in its scenario repo, in git), one key a
line in the same `ed25519 KEY NAME` form; `#` starts a comment. A line that begins with
`samples-only` lists a key whose private half is public (the repository's sample key): a
transcript signed with it verifies as "sample", never as evidence.

A signature signs the hash of the transcript line before it (the chain head, which commits to
every line up to it): the message is `SIGNED_PREFIX + head`, where head is the hex SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PRIVATE_KEY_NAME = "signing-key.pem"
PUBLIC_KEY_NAME = "signing-key.pub"
TRUSTED_KEYS_NAME = "trusted_keys"
KEY_ENV = "TABLETOP_SIGNING_KEY"
ALGORITHM = "ed25519"
SAMPLES_ONLY = "samples-only"
SIGNED_PREFIX = b"tabletop transcript signature v1\n"
"""What a signature signs: this prefix, then the chain head (hex SHA-256) as ASCII."""


class KeyFileError(Exception):
    """A key file that cannot be read or written; the message names the file."""


def login_name() -> str:
    """The login name, capitalised: the default name of a key's holder."""
    import getpass

    try:
        return getpass.getuser().capitalize() or "Player"
    except Exception:
        return "Player"


def config_dir() -> Path:
    """The user's tabletop config folder (XDG on Linux and macOS, APPDATA on Windows)."""
    if sys.platform == "win32" and not os.environ.get("XDG_CONFIG_HOME"):
        return Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "tabletop"
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "tabletop"


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key with the name of its holder (and whether it is for samples only)."""

    raw: bytes
    name: str
    samples_only: bool = False
    source: str = ""

    @property
    def text(self) -> str:
        """The key as transcripts and key files write it: base64 of the 32 raw bytes."""
        return base64.b64encode(self.raw).decode("ascii")

    @property
    def fingerprint(self) -> str:
        digest = base64.b64encode(hashlib.sha256(self.raw).digest()).decode("ascii").rstrip("=")
        return f"SHA256:{digest[:16]}"

    def line(self) -> str:
        prefix = f"{SAMPLES_ONLY} " if self.samples_only else ""
        return f"{prefix}{ALGORITHM} {self.text} {self.name}".rstrip()

    def verifies(self, signature: str, head: str, prefix: bytes = SIGNED_PREFIX) -> bool:
        """True when `signature` (base64) is this key's signature of chain head `head` (signed
        after `prefix`: a transcript's, or another signed file's, such as the follow-up register)."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            raw_signature = base64.b64decode(signature, validate=True)
            Ed25519PublicKey.from_public_bytes(self.raw).verify(raw_signature, prefix + head.encode())
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


def decode_key(text: object) -> bytes | None:
    """The 32 raw bytes of a base64 Ed25519 public key, or None when `text` is not one."""
    if not isinstance(text, str) or len(text) > 64:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


class Signer:
    """A private key that signs chain heads, with its public half."""

    def __init__(self, private: Ed25519PrivateKey, name: str, path: Path | None = None) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._private = private
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public = PublicKey(raw, name)
        self.path = path

    @property
    def name(self) -> str:
        return self.public.name

    def sign(self, head: str, prefix: bytes = SIGNED_PREFIX) -> str:
        """The base64 signature of chain head `head` after `prefix` (see SIGNED_PREFIX)."""
        signature = self._private.sign(prefix + head.encode())
        return base64.b64encode(signature).decode("ascii")

    @classmethod
    def generate(cls, name: str) -> Signer:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate(), name)

    def private_pem(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        return self._private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def _clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name or not name.isprintable() or len(name) > 100:
        raise KeyFileError("expected a name of at most 100 printable characters on one line")
    return name


def init_keys(name: str, *, folder: Path | None = None, force: bool = False) -> Signer:
    """Make a new key pair in `folder` (default: the config folder); never over an existing one
    unless `force`. The private key is written with mode 0600 in a folder of mode 0700."""
    from tabletop.files import OutputFileError, write_private

    folder = Path(folder) if folder is not None else config_dir()
    signer = Signer.generate(_clean_name(name))
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(folder / PRIVATE_KEY_NAME, signer.private_pem(), force=force)
        write_private(folder / PUBLIC_KEY_NAME, signer.public.line() + "\n", force=True)
    except OutputFileError as error:
        if "exists" in error.reason:
            raise KeyFileError(
                f"{folder / PRIVATE_KEY_NAME}: a signing key exists already; --force makes a new one "
                "(transcripts signed with the old key then verify only where it is still trusted)"
            ) from None
        raise KeyFileError(str(error)) from None
    signer.path = folder / PRIVATE_KEY_NAME
    return signer


def load_signer(path: Path | str) -> Signer:
    """The signer whose private key is in `path` (its name from the `.pub` file beside it)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from tabletop.files import read_input

    path = Path(path)
    try:
        data = read_input(path, limit=64 * 1024, what="private key")
        private = load_pem_private_key(data, password=None)
    except OSError as error:
        raise KeyFileError(f"{path}: {error}") from None
    except (ValueError, TypeError):
        raise KeyFileError(f"{path}: not an unencrypted Ed25519 private key in PEM form") from None
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not isinstance(private, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    name = path.stem
    public = path.with_suffix(".pub")
    if public.is_file():
        keys = read_key_file(public)
        if keys:
            name = keys[0].name
    return Signer(private, name, path)


def session_signer(default_name: str | None = None) -> Signer:
    """The key new transcripts are signed with: `$TABLETOP_SIGNING_KEY` when set, else the
    user's own, made on first use."""
    chosen = os.environ.get(KEY_ENV)
    if chosen:
        return load_signer(chosen)
    path = config_dir() / PRIVATE_KEY_NAME
    if path.exists():
        return load_signer(path)
    if default_name is None:
        default_name = login_name()
    try:
        return init_keys(default_name)
    except KeyFileError:
        if path.exists():  # made meanwhile by another session
            return load_signer(path)
        raise


def own_public_key() -> PublicKey | None:
    """The user's own public key, when there is one."""
    keys = read_key_file(config_dir() / PUBLIC_KEY_NAME)
    return keys[0] if keys else None


def parse_key_lines(text: str, source: str) -> tuple[list[PublicKey], list[str]]:
    """Keys in the `[samples-only] ed25519 KEY NAME` form, and a problem per bad line."""
    keys: list[PublicKey] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        samples_only = words[0] == SAMPLES_ONLY
        if samples_only:
            words = words[1:]
        raw = decode_key(words[1]) if len(words) >= 2 and words[0] == ALGORITHM else None
        if raw is None:
            problems.append(f"{source}:{number}: expected `ed25519 KEY NAME` (KEY in base64), line ignored")
            continue
        name = " ".join(words[2:]) or "(unnamed key)"
        keys.append(PublicKey(raw, name, samples_only, f"{source}:{number}"))
    return keys, problems


_KEY_FILES: dict[str, tuple[tuple[int, ...], tuple[list[PublicKey], list[str]]]] = {}


def _key_lines(path: Path, what: str) -> tuple[list[PublicKey], list[str]]:
    """`parse_key_lines` of a key file, kept while the file is unchanged (same inode, size and
    times): a review verifies thousands of transcripts against the same few key files. Raises
    OSError when it cannot be read."""
    from tabletop.files import read_input

    try:
        stat = os.stat(path)
        version: tuple[int, ...] | None = (
            stat.st_dev,
            stat.st_ino,
            stat.st_size,
            stat.st_mtime_ns,
            stat.st_ctime_ns,
        )
    except OSError:
        version = None
    known = _KEY_FILES.get(str(path))
    if known is not None and version is not None and known[0] == version:
        return list(known[1][0]), list(known[1][1])
    text = read_input(path, limit=1024 * 1024, what=what).decode("utf-8", "replace")
    parsed = parse_key_lines(text, str(path))
    if version is not None:
        if len(_KEY_FILES) > 64:
            _KEY_FILES.clear()
        _KEY_FILES[str(path)] = (version, parsed)
    return list(parsed[0]), list(parsed[1])


def read_key_file(path: Path) -> list[PublicKey]:
    try:
        return _key_lines(path, "key file")[0]
    except OSError:
        return []


@dataclass(frozen=True)
class TrustStore:
    """The public keys a verifier trusts, by their base64 text."""

    keys: dict[str, PublicKey]
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def get(self, key_text: str) -> PublicKey | None:
        return self.keys.get(key_text)


def trusted_keys(near: Path | str | None = None, extra: Path | str | None = None) -> TrustStore:
    """The user's own key, the nearest `trusted_keys` file at or above `near` (a transcript or
    a folder), and `extra` (a file given on the command line)."""
    keys: dict[str, PublicKey] = {}
    sources: list[str] = []
    problems: list[str] = []
    own_file = config_dir() / PUBLIC_KEY_NAME
    own_keys = read_key_file(own_file)
    if own_keys:
        own = own_keys[0]
        keys[own.text] = PublicKey(own.raw, own.name, False, "your own key")
        sources.append(str(own_file))
    files: list[Path] = []
    if near is not None:
        # the folder and each one above it (string paths: a review asks this for every transcript)
        start = os.path.realpath(near)
        folder = start if os.path.isdir(start) else os.path.dirname(start)
        while True:
            candidate = os.path.join(folder, TRUSTED_KEYS_NAME)
            if os.path.isfile(candidate):
                files.append(Path(candidate))
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    if extra is not None:
        files.append(Path(extra))
    for path in files:
        try:
            found, bad = _key_lines(path, "trusted keys file")
        except OSError as error:
            problems.append(f"{path}: {error}")
            continue
        problems.extend(bad)
        sources.append(str(path))
        for key in found:
            known = keys.get(key.text)
            if known is not None and known.source == "your own key":
                continue
            keys[key.text] = key
    return TrustStore(keys, tuple(sources), tuple(problems))
