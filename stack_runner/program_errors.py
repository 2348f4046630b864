"""An error of the program reaches the engine once, as it does through the Pulumi CLI.

The Automation API serves the program to the engine from this process, through its
`LanguageServer` (pulumi/automation/_server.py). When the program raises (a config
error, a failed pre-flight), that server logs the message as an error diagnostic *and*
returns it as the run's error, which the engine prints a second time as
"an unhandled error occurred: <message>". The CLI's own Python language host logs the
message and then tells the engine that the run bailed (exit code 32): an error the user
has already been shown. The server here answers the same way.
"""

from __future__ import annotations

from typing import Any

from pulumi.automation import _stack
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2


class BailingLanguageServer(LanguageServer):
    """The Automation API's server, answering a failed run with `bail`."""

    def Run(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        response = super().Run(request, context)
        if response.error:
            # Every branch of the SDK's Run that sets `error` has logged it just before.
            return language_pb2.RunResponse(bail=True)
        return response


def report_once() -> None:
    """Makes every inline program run in this process report its error once."""
    # Stack.up/preview/refresh/destroy build their server from this module's name.
    if _stack.LanguageServer not in (LanguageServer, BailingLanguageServer):
        raise RuntimeError("pulumi.automation changed how it serves inline programs")
    _stack.LanguageServer = BailingLanguageServer  # type: ignore[misc]
