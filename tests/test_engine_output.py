"""What the stack runner shows of the CLI's output (stack_runner/output.py), on lines
the engine printed for a failed `up` (tests/e2e/test_errors_once.py runs the real one)."""

from __future__ import annotations

from pulumi.automation import _stack
from pulumi.automation._server import LanguageServer

from stack_runner.output import ErrorsOnce
from stack_runner.program_errors import BailingLanguageServer, report_once

ERROR = "ollama-judge:kubernetes.replica is not a setting; known here: cpu, replicas."
UP = [
    "Updating (knitfab):",
    "",
    " +  pulumi:pulumi:Stack ollama-judge-knitfab creating (0s) ",
    f" +  pulumi:pulumi:Stack ollama-judge-knitfab creating (0s) error: {ERROR}",
    " +  pulumi:pulumi:Stack ollama-judge-knitfab **creating failed (0.01s)** 1 error",
    "Diagnostics:",
    "  pulumi:pulumi:Stack (ollama-judge-knitfab):",
    f"    error: {ERROR}",
    "",
    "Resources:",
    "    1 errored",
]


def shown(lines: list[str]) -> list[str]:
    written: list[str] = []
    echo = ErrorsOnce(written.append)
    for line in lines:
        echo(line)
    return written


def test_a_rows_error_is_left_to_the_diagnostics():
    written = shown(UP)
    assert "\n".join(written).count(ERROR) == 1
    row = " +  pulumi:pulumi:Stack ollama-judge-knitfab creating (0s) "
    assert written[3] == f"{row}error (in full under Diagnostics)"
    assert written[7] == f"    error: {ERROR}"
    assert [w for i, w in enumerate(written) if i != 3] == [u for i, u in enumerate(UP) if i != 3]


def test_the_changed_properties_of_a_failed_row_stay():
    row = " ~  kubernetes:apps/v1:Deployment ollama-deployment **updating failed** [diff: ~spec]; "
    assert shown([f"{row}error: the API server said no"]) == [
        f"{row}error (in full under Diagnostics)"
    ]


def test_coloured_rows_are_recognised():
    line = (
        "\x1b[32m + \x1b[0m pulumi:pulumi:Stack ollama-judge-knitfab create \x1b[31merror: \x1b[0mX"
    )
    assert shown([line]) == [
        " +  pulumi:pulumi:Stack ollama-judge-knitfab create error (in full under Diagnostics)"
    ]


def test_the_diff_display_and_the_diagnostics_are_shown_as_they_are():
    # --diff prints each diagnostic once, on a line of its own, and no diagnostics section.
    diff = ["+ pulumi:pulumi:Stack: (create)", f"error: {ERROR}", "Resources:"]
    assert shown(diff) == diff
    # A multi-line diagnostic may say "error:" anywhere once the section has begun.
    tail = ["Diagnostics:", "    error: failed", "      ValueError: error: deep down"]
    assert shown(tail) == tail


def test_warnings_and_messages_of_rows_stay():
    rows = [
        "    pulumi:pulumi:Stack ollama-judge-local  warning: could not check the registry",
        " +  docker:index/container:Container ollama-container creating (3s) pulling llama3.2",
    ]
    assert shown(rows) == rows


def test_inline_programs_report_a_failed_run_as_bailed():
    try:
        report_once()
        report_once()  # a second stack opened in the same process
        assert _stack.LanguageServer is BailingLanguageServer
    finally:
        _stack.LanguageServer = LanguageServer  # type: ignore[misc]
