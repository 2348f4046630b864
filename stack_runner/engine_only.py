"""`up`, `refresh` and `destroy` without reading their result back: after the engine's command,
`Stack.up` runs `pulumi stack output` twice and `pulumi stack history` once (`refresh`,
`destroy`: the history), about 1.5 s per `up` on 2 cores, for a result the runner never reads.
No switch skips that (pulumi/pulumi#5453), so within `engine_only(stack)` the command starts
nothing after an engine command has succeeded."""

import contextlib
from collections.abc import Iterator
from typing import Any

from pulumi import automation as auto

# The engine's commands whose result the Automation API reads back.
READ_BACK = frozenset({"up", "refresh", "destroy", "import"})


class ResultNotRead(Exception):  # noqa: N818 (not an error: how the operation ends)
    """The engine's command has succeeded; what the Automation API would run next is not."""


class EngineOnlyCommand(auto.PulumiCommand):
    engine_only = engine_done = False

    def run(self, args: list[str], *rest: Any, **options: Any) -> auto.CommandResult:
        if self.engine_done:
            raise ResultNotRead
        engine = args[0] in READ_BACK  # before the CLI's run puts its own options first
        result = super().run(args, *rest, **options)
        self.engine_done = self.engine_only and engine
        return result


@contextlib.contextmanager
def engine_only(stack: auto.Stack) -> Iterator[None]:
    """Runs the block's operation up to the end of the engine's command (see above)."""
    command = stack.workspace.pulumi_command
    assert isinstance(command, EngineOnlyCommand), "open the stack with an EngineOnlyCommand"
    command.engine_only, command.engine_done = True, False
    try:
        with contextlib.suppress(ResultNotRead):
            yield
    finally:
        command.engine_only = command.engine_done = False
