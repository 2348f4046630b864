"""What the stack runner shows of the CLI's output (stack_runner/output.py), on lines the
pinned engine printed for a failed `up` of an inline program (tests/e2e/test_errors_once.py
runs the real one)."""

from __future__ import annotations

from stack_runner.output import Once

ERROR = "ollama-judge:kubernetes.replica is not a setting; known here: cpu, replicas."
FIX = "Remove it with: pulumi config rm --path 'ollama-judge:kubernetes.replica'"
WARNING = "could not check the registry"
STACK = "pulumi:pulumi:Stack ollama-judge-knitfab"
# As the engine prints it: each diagnostic in its row and again under "Diagnostics:", and
# the program's error a second time as "an unhandled error occurred".
UP = [
    "Updating (knitfab):",
    "",
    f"    {STACK}  warning: {WARNING}",
    f" +  {STACK} creating (0s) warning: {WARNING}",
    f" +  {STACK} creating (0s) error: {ERROR}",
    f" +  {STACK} creating (0s) error: an unhandled error occurred: {ERROR}",
    f" +  {STACK} **creating failed (0.01s)** 2 errors; 1 warning",
    "Diagnostics:",
    "  pulumi:pulumi:Stack (ollama-judge-knitfab):",
    f"    warning: {WARNING}",
    f"    error: {ERROR}",
    f"    {FIX}",
    f"    error: an unhandled error occurred: {ERROR}",
    f"    {FIX}",
    "",
    "Resources:",
    "    + 1 created",
    "    1 errored",
]


def shown(lines: list[str], rows: bool = True) -> list[str]:
    written: list[str] = []
    echo = Once(written.append, rows=rows)
    for line in lines:
        echo(line)
    return written


def test_each_diagnostic_is_shown_once_in_full_and_its_rows_point_to_it():
    assert shown(UP) == [
        "Updating (knitfab):",
        "",
        f"    {STACK}  warning (in full under Diagnostics)",
        f" +  {STACK} creating (0s) warning (in full under Diagnostics)",
        f" +  {STACK} creating (0s) error (in full under Diagnostics)",
        f" +  {STACK} **creating failed (0.01s)** 1 error; 1 warning",
        "Diagnostics:",
        "  pulumi:pulumi:Stack (ollama-judge-knitfab):",
        f"    warning: {WARNING}",
        f"    error: {ERROR}",
        f"    {FIX}",
        "",
        "Resources:",
        "    + 1 created",
        "    1 errored",
    ]


def test_a_rows_warning_is_left_to_the_diagnostics():
    written = "\n".join(shown(UP))
    assert written.count(WARNING) == 1
    assert written.count(ERROR) == 1 and written.count(FIX) == 1
    assert "an unhandled error occurred" not in written


def test_the_repeat_of_a_program_error_is_left_out_of_stderr_too():
    # --diff prints the diagnostics on stderr, each once, without rows.
    stderr = [f"warning: {WARNING}", f"error: {ERROR}", FIX]
    repeat = [f"error: an unhandled error occurred: {ERROR}", FIX]
    assert shown([*stderr, *repeat, "error: update failed"], rows=False) == [
        *stderr,
        "error: update failed",
    ]


def test_what_follows_a_repeat_is_shown():
    tail = ["", "Resources:", "    1 errored"]
    lines = ["Diagnostics:", f"    error: {ERROR}", "    error: an unhandled error occurred: X"]
    assert shown([*lines, "    info: next", *tail]) == [*lines[:2], "    info: next", *tail]


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


def test_messages_of_rows_stay():
    rows = [" +  docker:index/container:Container ollama-container creating (3s) pulling llama3.2"]
    assert shown(rows) == rows
