"""`tabletop keys`: make the signing key pair, show it, and re-sign sample transcripts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from tabletop.untrusted import one_line, safe


def _fail(message: str) -> None:
    click.echo(f"tabletop: {safe(message)}", err=True)
    sys.exit(1)


@click.group()
def keys() -> None:
    """The Ed25519 key that signs your transcripts, and the keys you trust."""


@keys.command("init")
@click.option("--name", default=None, help="Your name as verifiers will read it (default: your login name).")
@click.option(
    "--force", is_flag=True, help="Replace an existing key pair (old transcripts stay signed by the old key)."
)
def init(name: str | None, force: bool) -> None:
    """Make your signing key pair in the config folder ($XDG_CONFIG_HOME/tabletop).

    The private key is written with mode 0600. Give the printed public key line to whoever
    verifies your transcripts: they add it to the `trusted_keys` file of their scenario repo.
    """
    from tabletop.keys import KeyFileError, init_keys, login_name

    try:
        signer = init_keys(name or login_name(), force=force)
    except KeyFileError as error:
        _fail(str(error))
        return
    click.echo(f"private key: {signer.path} (mode 0600; keep it to yourself)")
    click.echo(f"public key ({signer.public.fingerprint}), for a trusted_keys file:")
    click.echo(signer.public.line())


@keys.command("show")
def show() -> None:
    """Print your public key line (for a `trusted_keys` file)."""
    from tabletop.keys import own_public_key

    key = own_public_key()
    if key is None:
        _fail("no signing key yet: run `tabletop keys init` (the first session makes one too)")
        return
    click.echo(key.line())


@keys.command("resign")
@click.argument("transcripts", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The private key to sign with (for the committed samples: transcripts/samples/sample-signing-key.pem).",
)
def resign_command(transcripts: tuple[Path, ...], key_path: Path) -> None:
    """Re-chain and re-sign TRANSCRIPTS with the key in KEY, replacing their signatures.

    Meant for the committed samples, which are signed with the repository's sample key. Each
    transcript must have an intact hash chain; the result names KEY's holder as its only signer.
    """
    from tabletop.files import OutputFileError, write_private
    from tabletop.keys import KeyFileError, load_signer
    from tabletop.transcript import resign, verify_transcript

    try:
        signer = load_signer(key_path)
    except KeyFileError as error:
        _fail(str(error))
        return
    for path in transcripts:
        chain = verify_transcript(path)
        if not chain.ok:
            _fail(f"{path}: not re-signed: {chain.summary()}")
        try:
            write_private(path, resign(chain.events, signer), force=True)
        except OutputFileError as error:
            _fail(str(error))
        click.echo(f"{one_line(path)}: re-signed by {one_line(signer.name)} ({signer.public.fingerprint})")
