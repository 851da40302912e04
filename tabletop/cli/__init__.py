"""The `tabletop` command line: a click group whose subcommands load on first use."""

from __future__ import annotations

import getpass
import importlib

import click

from tabletop import __version__

# command name -> "module:attribute"; each command lives in its own module so that start-up
# only imports what the invoked command needs.
COMMANDS: dict[str, str] = {
    "validate": "tabletop.cli.authoring:validate",
    "list": "tabletop.cli.authoring:list_scenarios",
    "show": "tabletop.cli.authoring:show",
    "simulate": "tabletop.cli.running:simulate",
    "verify": "tabletop.cli.running:verify",
    "score": "tabletop.cli.scoring:score",
    "report": "tabletop.cli.scoring:report",
    "run": "tabletop.cli.console:run",
    "review": "tabletop.cli.review:review",
    "compare": "tabletop.cli.review:compare",
    "trends": "tabletop.cli.review:trends",
    "host": "tabletop.cli.team:host",
    "join": "tabletop.cli.team:join",
    "serve": "tabletop.cli.team:serve",
    "msel": "tabletop.cli.library:msel",
    "new": "tabletop.cli.library:new",
    "guide": "tabletop.cli.library:guide",
    "keys": "tabletop.cli.keys:keys",
    "programme": "tabletop.cli.programme:programme",
    "followups": "tabletop.cli.programme:followups",
    "evidence": "tabletop.cli.programme:evidence",
}


def default_player_name() -> str:
    """The login name, capitalised, as a player's name when `--name` is not given."""
    try:
        return getpass.getuser().capitalize() or "Player"
    except Exception:  # no login name on this system
        return "Player"


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that command runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tabletop")
def main() -> None:
    """Rehearse incident management: run scenarios, record decisions, score them, draft the post-mortem."""
