"""Shared pieces of the benchmark scripts: database URLs per size, a plain-text progress bar,
a SQL statement counter, and sign-in helpers."""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_ROOT / "instance" / "bench"
PASSWORD = "bench-password-2026!"

# The program size (issue 9): 10,000 trade accounts, about 1,000,000 answers.
DEFAULT_ACCOUNTS = 10_000
SMALL_ACCOUNTS = 100


def database_url_for(accounts: int, base_url: str | None = None) -> str:
    """The benchmark database of one size.

    Without ``base_url`` (or with a SQLite one) it is a file ``instance/bench/bench-<n>.db``; with a
    PostgreSQL URL it is the database ``<name>_<n>`` on that server (the generator recreates it).
    """
    if not base_url or base_url.startswith("sqlite"):
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{BENCH_DIR / f'bench-{accounts}.db'}"
    url = make_url(base_url)
    name = url.database or "ctpat_bench"
    return url.set(database=f"{name}_{accounts}").render_as_string(hide_password=False)


def totp_secret(email: str) -> str:
    """The authenticator seed of a generated CBP staff user (base32), derived from the address so
    that the benchmarks can compute codes; only ever used on benchmark databases."""
    return base64.b32encode(hashlib.sha256(f"ctpat-bench-totp:{email}".encode()).digest()[:20]).decode()


def describe(url: str) -> str:
    """A URL for reports: dialect and database, never a password."""
    parsed = make_url(url)
    return f"{parsed.get_backend_name()}:{parsed.database}"


class Progress:
    """``[##########..........]  50%  answers  500,000/1,000,000  12.3 s``, redrawn in place on a
    terminal and printed every 10 % otherwise (logs stay short)."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: Any = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.perf_counter()
        self._last_decile = 0
        if self.tty:
            self._draw()

    def advance(self, count: int) -> None:
        self.done = min(self.total, self.done + count)
        self._draw()

    def _draw(self) -> None:
        fraction = self.done / self.total
        decile = int(fraction * 10)
        if not self.tty and decile == self._last_decile and self.done < self.total:
            return
        self._last_decile = decile
        filled = int(fraction * self.WIDTH)
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {fraction * 100:5.1f}%  {self.label:<22} "
                f"{self.done:>10,}/{self.total:,}  {time.perf_counter() - self.started:6.1f} s")
        if self.tty:
            self.stream.write("\r" + line)
            if self.done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.done < self.total:
            self.done = self.total
            self._draw()


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class StatementCounter:
    """Counts the SQL statements an engine executes (``before_cursor_execute``), as SQLAlchemy's
    performance FAQ and Indico's ``count_queries`` do; transaction control is not counted."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []
        self.keep = False
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # Transaction control is not a query (and only SQLite's BEGIN IMMEDIATE passes through here).
        if statement.lstrip()[:9].upper().startswith(TRANSACTION_CONTROL):
            return
        self.count += 1
        if self.keep:
            self.statements.append(statement)

    @contextmanager
    def measure(self, keep: bool = False) -> Iterator[StatementCounter]:
        self.count = 0
        self.statements = []
        self.keep = keep
        yield self
        self.keep = False

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover (not Linux)
        return os.cpu_count() or 1


def program_parser(doc: str, seed: int) -> argparse.ArgumentParser:
    """An argument parser described by a benchmark's docstring, with the options of the program it runs
    on: its size, the database (SQLite files unless a PostgreSQL URL prefix is given) and the seed."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS,
                        help=f"program size (default {DEFAULT_ACCOUNTS:,})")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL prefix; default SQLite files")
    parser.add_argument("--seed", type=int, default=seed)
    return parser
