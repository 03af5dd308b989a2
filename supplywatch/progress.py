"""Progress of the long stages, on stderr only: a live bar on a terminal, one summary line under cron, or nothing.

The stages themselves (crawlers, classifiers) know nothing of this module: they take a plain callable
``progress(done, total=None)`` (:class:`Tick`), called with the running count of items done and, when
known, how many there are in all. The composition root (:mod:`supplywatch.pipeline`) opens one
:meth:`Reporter.stage` per stage and hands its tick to the package's loop. Which reporter a command gets is
decided once, by :func:`reporter`: ``--quiet`` -> :class:`Reporter` (silent), stderr a terminal -> :class:`Bars`
(rich, imported only then), else :class:`Summary`. Standard output is never written, so ``--json`` and
``--csv`` stay clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TextIO


class Tick(Protocol):
    """What a stage's loop calls: ``done`` items so far (cumulative), ``total`` when known (it may come later)."""

    def __call__(self, done: int, total: int | None = None) -> None: ...


class _Count:
    """A stage's running count and total; the reporters draw from it."""

    def __init__(self, name: str, unit: str):
        self.name, self.unit = name, unit
        self.done, self.total = 0, None
        self.started = time.monotonic()
        self.on_change: Any = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        if self.on_change is not None:
            self.on_change(self)

    def summary(self, stopped: bool = False) -> str:
        seconds = time.monotonic() - self.started
        rate = f", {self.done / seconds:.1f} {self.unit}/s" if seconds > 0 and self.done else ""
        of = f" of {self.total}" if self.total is not None and (stopped or self.total != self.done) else ""
        verb = "stopped after" if stopped else "done:"
        return f"{self.name}: {verb} {self.done}{of} {self.unit} in {seconds:.1f} s{rate}"


class Reporter:
    """The silent reporter (``--quiet``, and the default of a pipeline nobody watches): ticks go nowhere."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    @contextmanager
    def stage(self, name: str, unit: str = "documents") -> Iterator[Tick]:
        """A :class:`Tick` for the stage ``name`` while it runs."""
        count = _Count(name, unit)
        try:
            yield count
        except BaseException:
            self.finish(count, stopped=True)
            raise
        self.finish(count, stopped=False)

    def finish(self, count: _Count, *, stopped: bool) -> None:
        pass

    def note(self, line: str) -> None:
        """One line of its own (the backfill's chunk lines); the silent reporter drops it."""


class Summary(Reporter):
    """Not a terminal (cron, a pipe, a log file): one line per stage when it ends, and the notes.

    A stage that failed before it began (no database, no model) prints nothing: its error is the one line."""

    def finish(self, count: _Count, *, stopped: bool) -> None:
        if not stopped or count.done or count.total is not None:
            self.note(count.summary(stopped))

    def note(self, line: str) -> None:
        print(line, file=self.stream or sys.stderr, flush=True)


class Bars(Reporter):
    """A terminal: a rich bar per stage with the count, the rate and the time left, left on screen when done."""

    @contextmanager
    def stage(self, name: str, unit: str = "documents") -> Iterator[Tick]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        console = Console(file=self.stream or sys.stderr)
        # redirect_stdout=False: a result printed meanwhile goes to stdout as is, never into the bar's stream.
        bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn(f"{{task.fields[rate]}} {unit}/s"), TimeElapsedColumn(), TextColumn("elapsed,"),
                        TimeRemainingColumn(), TextColumn("left"), console=console, redirect_stdout=False,
                        redirect_stderr=True)
        task = bars.add_task(name, total=None, rate="-")
        count = _Count(name, unit)

        def draw(c: _Count) -> None:
            seconds = time.monotonic() - c.started
            rate = f"{c.done / seconds:.1f}" if seconds > 0 and c.done else "-"
            bars.update(task, completed=c.done, total=c.total, rate=rate)

        count.on_change = draw
        with bars:
            try:
                yield count
            finally:
                draw(count)

    def note(self, line: str) -> None:
        print(line, file=self.stream or sys.stderr, flush=True)


def reporter(*, quiet: bool = False, stream: TextIO | None = None) -> Reporter:
    """The reporter for a command: silent with ``quiet``, bars when ``stream`` (stderr) is a terminal, else summaries."""
    stream = stream or sys.stderr
    if quiet:
        return Reporter(stream)
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return Bars(stream) if tty else Summary(stream)
