#!/usr/bin/env bash
# The Pulumi CLI, except that the command whose arguments contain HELD_PULUMI_ARGS (say
# "stack export") waits before it runs: it creates HELD_PULUMI_MARK, then runs once
# HELD_PULUMI_RELEASE exists. A test puts this first on PATH as `pulumi` to press Ctrl-C
# while the stack runner waits for that command. HELD_PULUMI_REAL is the real CLI.
set -euo pipefail

if [[ " $* " == *" ${HELD_PULUMI_ARGS} "* ]]; then
    touch "${HELD_PULUMI_MARK}"
    until [[ -e "${HELD_PULUMI_RELEASE}" ]]; do
        sleep 0.1
    done
fi
exec "${HELD_PULUMI_REAL}" "$@"
