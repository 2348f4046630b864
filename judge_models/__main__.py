"""`scripts/judge-models`: which models a deployed judge answers with, by their manifests'
digests, from the stacks' outputs (modelDigests, ollamaVersion).

  pin --stack STACK   writes each model's digest into the stack file, as NAME@sha256:...,
                      so that the judge stays that model and a change of it is reviewed
  compare A B         exit 0 only if stacks A and B judge with the same models on the same
                      Ollama; otherwise names what differs
"""

import argparse
import sys
from typing import Any

from pulumi import automation as auto

from components.config import settings_from_config
from components.config_rules import PROJECT, ConfigError, split_pin
from components.model_registry import registry_and_manifest
from stack_runner.stacks import open_stack


class NotDeployedError(Exception):
    """The stack's outputs cannot tell: what to run first."""


def identity(stack: auto.Stack) -> dict[str, Any]:
    outputs = {key: value.value for key, value in stack.outputs().items()}
    deploy = f"scripts/deploy {stack.name}"
    if not outputs:
        raise NotDeployedError(f"stack {stack.name} has no outputs: deploy it first ({deploy})")
    if outputs.get("modelDigests") is None:
        raise NotDeployedError(
            f"stack {stack.name} was deployed before its judge reported its models' digests: "
            f"deploy it again ({deploy})"
        )
    return outputs


def pin(stack: auto.Stack) -> int:
    digests = identity(stack)["modelDigests"]
    values = {key: value.value for key, value in stack.get_all_config().items()}
    models = settings_from_config(values, stack.name).judge.models
    pinned = []
    for model in models:
        name = split_pin(model)[0]
        if not digests.get(name):
            raise NotDeployedError(
                f"the judge of stack {stack.name} has not reported {name}: deploy the stack "
                f"with it first (scripts/deploy {stack.name})"
            )
        pinned.append(f"{name}@{digests[name]}")
    for index, (model, now) in enumerate(zip(models, pinned, strict=True)):
        stack.set_config(f"{PROJECT}:models[{index}]", auto.ConfigValue(now), path=True)
        print(f"{PROJECT}:models[{index}]: {now}" + (" (unchanged)" if now == model else ""))
    return 0


def compare(left: auto.Stack, right: auto.Stack) -> int:
    said = {stack.name: identity(stack) for stack in (left, right)}
    # By the names as Ollama resolves them: llama3.2 is the same as llama3.2:latest.
    digests = {
        name: {registry_and_manifest(m): (m, d) for m, d in said[name]["modelDigests"].items()}
        for name in said
    }
    differences = []
    for key in sorted(digests[left.name].keys() | digests[right.name].keys()):
        ours, theirs = (digests[stack.name].get(key, (None, None)) for stack in (left, right))
        if ours[1] != theirs[1]:
            model = ours[0] or theirs[0]
            differences.append(
                f"{model}: {left.name} {ours[1] or 'does not have it'}, "
                f"{right.name} {theirs[1] or 'does not have it'}"
            )
    versions = [said[stack.name].get("ollamaVersion") for stack in (left, right)]
    if versions[0] != versions[1]:
        differences.append(f"Ollama: {left.name} {versions[0]}, {right.name} {versions[1]}")
    if differences:
        print(f"{left.name} and {right.name} judge differently:")
        print("\n".join(f"  {line}" for line in differences))
        return 1
    models = ", ".join(f"{model} {d}" for model, d in sorted(digests[left.name].values()))
    print(
        f"{left.name} and {right.name} judge alike: {models or 'no models'}; Ollama {versions[0]}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/judge-models", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("pin", help="pin what a stack runs now").add_argument(
        "-s", "--stack", required=True, help="local or knitfab"
    )
    compared = commands.add_parser("compare", help="do two stacks judge alike?")
    compared.add_argument("stacks", nargs=2, metavar="STACK")
    args = parser.parse_args(argv)
    try:
        if args.command == "pin":
            return pin(open_stack(args.stack))
        return compare(*(open_stack(name) for name in args.stacks))
    except (NotDeployedError, ConfigError, auto.CommandError) as error:
        print(f"judge-models: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
