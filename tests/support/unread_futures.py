"""Fails the test run when asyncio reports a future or task whose error nobody read
("Future exception was never retrieved", "Task exception was never retrieved").

asyncio reports one only when it collects it, which may be during another test (whose
captured log nobody reads) or after the session's summary: either way the run passed.
This plugin collects garbage once the tests ran, and fails the run for any report it
heard; tests/conftest.py loads it.
"""

from __future__ import annotations

import gc
import logging

import pytest


class _Heard(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "exception was never retrieved" in record.getMessage():
            exception = record.exc_info[1] if record.exc_info else None
            self.reports.append(f"{record.getMessage()}: {exception!r}")


HEARD = _Heard()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("asyncio").addHandler(HEARD)


def pytest_sessionfinish(session: pytest.Session) -> None:
    gc.collect()
    if HEARD.reports:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if HEARD.reports:
        terminalreporter.write_sep("=", "errors nobody read", red=True)
        for report in HEARD.reports:
            terminalreporter.write_line(report)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger("asyncio").removeHandler(HEARD)
