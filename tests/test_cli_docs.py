"""Docs-driven CLI checks: every command and option has help with an example, and the README names it."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from supplywatch.cli import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


def _commands() -> list[tuple[str, click.Command]]:
    out = [("supplywatch", cli)]
    for name, cmd in cli.commands.items():
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
    return out


@pytest.mark.parametrize("name,command", _commands(), ids=[n for n, _ in _commands()])
def test_command_has_help_with_example(name: str, command: click.Command) -> None:
    assert command.help and "Example:" in command.help, f"{name}: docstring lacks 'Example:'"
    for param in command.params:
        if isinstance(param, click.Option) and param.name not in ("help", "version"):
            assert param.help, f"{name} {param.opts[0]}: no help text"
            assert "Example:" in param.help, f"{name} {param.opts[0]}: help lacks 'Example:'"


@pytest.mark.parametrize("name", [n for n, _ in _commands() if n != "supplywatch"])
def test_readme_documents_command(name: str) -> None:
    assert f"supplywatch {name}" in README, f"README does not mention `supplywatch {name}`"
