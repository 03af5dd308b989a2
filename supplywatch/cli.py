"""The `supplywatch` command line: one click group, every command documented with an example.

Turns every SupplywatchError into a one-line message and its exit code; a traceback is a bug.
Heavy libraries (Scrapy, later torch) are imported inside the commands that need them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, NamedTuple, NoReturn

import click

from supplywatch.store import (
    DATE_FORMS,
    BusyError,
    ConfigError,
    CrawlError,
    DeliveryError,
    InputError,
    StorageError,
    SupplywatchError,
    date_range,
    vocabulary,
)

from . import config as configuration
from .pipeline import Pipeline, make_pipeline

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
LABEL_NAMES = vocabulary.label_names()


# The one table of exit statuses, by the error's meaning (the README's "Errors" paragraph says the same).
EXIT_CODES: dict[type[SupplywatchError], int] = {
    ConfigError: 2,
    InputError: 2,
    StorageError: 3,
    CrawlError: 4,
    DeliveryError: 5,
    BusyError: 75,  # EX_TEMPFAIL from sysexits.h: another run holds the lock, try again later
    SupplywatchError: 1,
}


def exit_code(exc: SupplywatchError) -> int:
    """The exit status of ``exc``: its nearest class in EXIT_CODES."""
    return next(EXIT_CODES[cls] for cls in type(exc).__mro__ if cls in EXIT_CODES)


def undecodable(args: list[str]) -> str | None:
    """A one-line complaint about the first argument that was not valid UTF-8 (Python keeps such bytes as
    lone surrogates, which SQLite and the terminal cannot take), or None."""
    for i, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return f"argument {i} ({raw!r}) is not valid UTF-8: supplywatch's arguments are UTF-8 text"
    return None


class Group(click.Group):
    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        problem = undecodable(list(sys.argv[1:] if args is None else args))
        if problem:
            click.echo(f"Error: {problem}", err=True)
            sys.exit(EXIT_CODES[InputError])
        return super().main(args, *rest, **kwargs)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:  # a bad option before the command (`supplywatch --bogus`)
            _usage_error(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a command's unknown option, missing argument or bad choice
            _usage_error(exc)
        except SupplywatchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exit_code(exc))
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


def _usage_error(exc: click.UsageError) -> NoReturn:
    """Click's usage errors as every other error: one line on stderr (the message and where help is), exit 2.

    Click prints a usage block, a hint and the message over four lines; a cron mail or a log wants one."""
    where = exc.ctx.command_path if exc.ctx is not None else "supplywatch"
    click.echo(f"Error: {exc.format_message()} (see: {where} --help)", err=True)
    sys.exit(EXIT_CODES[InputError])


class Period(NamedTuple):
    """A date option's value: the text typed, and its first and last day (YYYY-MM-DD)."""

    text: str
    first: str
    last: str


class DateType(click.ParamType):
    """Every date option's type: a year, a month or a day, one parser and one message (``store.date_range``).

    A bad value is an InputError, so it is the usual one-line error (exit 2), not click's usage block.
    """

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Period:
        if isinstance(value, Period):
            return value
        found = date_range(value)
        if found is None:
            option = param.opts[0] if param is not None and param.opts else "date"
            raise InputError(f"{option}: {value!r} is not a date ({DATE_FORMS})")
        return Period(value, found[0].isoformat(), found[1].isoformat())


DATE = DateType()


def check_order(since: Period | None, until: Period | None) -> None:
    """--since after --until selects nothing: say so instead of printing nothing."""
    if since is not None and until is not None and since.first > until.last:
        raise InputError(f"--since {since.text} is after --until {until.text}")


class Env:
    """What every command gets from the group's options."""

    def __init__(self, config_path: str | None, db: str | None, quiet: bool = False):
        self.config_path = config_path
        self.db_option = db
        self.quiet = quiet
        self._config: configuration.Config | None = None

    @property
    def config(self) -> configuration.Config:
        if self._config is None:
            self._config = configuration.load(self.config_path)
        return self._config

    def require_config(self) -> configuration.Config:
        """The configuration of a command that cannot work without one (crawl, run): a missing file is an error."""
        if self._config is None:
            path = self.config_path or os.environ.get(configuration.ENV_PREFIX + "CONFIG") or configuration.DEFAULT_CONFIG
            if not os.path.exists(path):
                raise ConfigError(f"no configuration: {path} not found (supplywatch init writes a starter one)")
            self._config = configuration.load(self.config_path, require_file=True)
        return self._config

    @property
    def db(self) -> str:
        return configuration.db_path(self.db_option)

    def pipeline(self, *, create: bool = False, readonly: bool = False) -> Pipeline:
        """The pipeline over this database; the configuration is loaded only if a stage asks for it.

        ``create=False`` (the default): a missing database is an error, not a new empty one.
        """
        from .progress import reporter

        return make_pipeline(lambda: self.config, self.db, create=create, readonly=readonly,
                             progress=reporter(quiet=self.quiet))


pass_env = click.make_pass_decorator(Env)

# Libraries whose own log lines a user sees only with -vv (Scrapy logs every request at DEBUG).
NOISY = ("scrapy", "twisted", "py.warnings", "trafilatura", "htmldate", "charset_normalizer", "filelock")


def _configure_logging(verbose: int) -> None:
    # Filter on the handler, not the loggers: Scrapy reconfigures logger levels when it starts.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING if verbose == 0 else logging.DEBUG if verbose > 1 else logging.INFO)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if verbose < 2:
        handler.addFilter(lambda record: not record.name.startswith(NOISY))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_supplywatch", False)]:
        root.removeHandler(old)
    handler._supplywatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(handler.level)


@click.group(cls=Group, context_settings=CONTEXT)
@click.option("--config", "config_path", metavar="FILE", envvar="SUPPLYWATCH_CONFIG",
              help="Configuration file (default ./supplywatch.toml). Example: --config ~/sw/supplywatch.toml")
@click.option("--db", metavar="FILE", envvar="SUPPLYWATCH_DB",
              help="SQLite database (default ./supplywatch.db). Example: --db /var/lib/supplywatch/archive.db")
@click.option("-v", "--verbose", count=True, help="More log output; twice for Scrapy's own log. Example: -vv")
@click.option("-q", "--quiet", is_flag=True, envvar="SUPPLYWATCH_QUIET",
              help="No progress on stderr (a bar on a terminal, else one line per stage). Example: -q classify")
@click.version_option(package_name="supplywatch", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, db: str | None, verbose: int, quiet: bool) -> None:
    """supplywatch: know the morning after when one of your suppliers is hit.

    Crawls security news feeds, vendor advisory pages and CSAF advisory feeds into one
    searchable SQLite archive.

    Example: supplywatch init && supplywatch crawl && supplywatch search "signing key"
    """
    _configure_logging(verbose)
    ctx.obj = Env(config_path, db, quiet)


# The commands register themselves on `cli` when their modules are imported.
from . import cli_archive, cli_backfill, cli_labels, cli_relations, cli_reports, cli_scale  # noqa: E402, F401


def main() -> None:
    cli(prog_name="supplywatch")


if __name__ == "__main__":
    main()
