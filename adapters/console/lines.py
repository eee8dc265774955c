"""Where typed lines come from: a terminal (line editing, history, tab completion), a pipe, or a script.

Piped and scripted lines are echoed after their prompt, so the output reads as a transcript.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, TextIO

from rich.console import Console
from rich.markup import escape


class Lines(Protocol):
    """The next line typed after `prompt`, or None at the end of input."""

    async def read(self, prompt: str) -> str | None: ...


def echo(out: Console, prompt: str, line: str) -> None:
    out.print(f"[bold]{escape(prompt)}[/bold]{escape(line)}", highlight=False)


class Scripted:
    """Lines given in advance (the demo, tests)."""

    def __init__(self, lines: Iterable[str], *, out: Console) -> None:
        self._lines = iter(lines)
        self.out = out

    async def read(self, prompt: str) -> str | None:
        line = next(self._lines, None)
        if line is not None:
            echo(self.out, prompt, line)
        return line


class Piped:
    """Lines from a stream that is not a terminal, e.g. `realign console < steps.txt`."""

    def __init__(self, stream: TextIO, *, out: Console) -> None:
        self.stream = stream
        self.out = out

    async def read(self, prompt: str) -> str | None:
        # Nothing else runs on the console's loop while it waits for a line (the engine runs between
        # commands), so a blocking read holds nobody up.
        line = self.stream.readline()
        if not line:
            return None
        echo(self.out, prompt, line.rstrip("\n"))
        return line.rstrip("\n")


class Terminal:
    """Lines typed at a terminal, with readline's editing, history and tab completion when it exists."""

    def __init__(self, *, out: Console, words: Callable[[], Sequence[str]]) -> None:
        self.out = out
        self.words = words  # what Tab completes: commands, handles, @departments
        try:
            import readline
        except ImportError:  # e.g. Windows without pyreadline: plain input still works
            return
        readline.set_completer(self._complete)
        readline.set_completer_delims(" ,")
        readline.parse_and_bind("tab: complete")

    def _complete(self, text: str, state: int) -> str | None:
        matches = [word for word in self.words() if word.startswith(text)]
        return matches[state] if state < len(matches) else None

    async def read(self, prompt: str) -> str | None:
        try:
            # Blocking on purpose, as in Piped: nothing else waits on this loop, and in a worker thread
            # Ctrl-C could not stop the read. A plain prompt, so readline knows its width to redraw it.
            return input(prompt)  # noqa: ASYNC250
        except EOFError:
            self.out.print()
            return None
