"""`scripts/judge-check`: asks a deployed judge one question of the evaluation's kind, and
prints its verdict and how long the judge took (the question and the client:
judge_check/client.py).

    scripts/judge-check local                  # the stack's hostUrl + /v1, its first model
    scripts/judge-check local --model qwen2.5:7b
    scripts/judge-check --url http://127.0.0.1:11434/v1 --model llama3.2
"""

from __future__ import annotations

import argparse
import sys

from judge_check.client import MAX_TOKENS, TIMEOUT_SECONDS, CheckError, ask_judge, openai_base


def stack_target(stack_name: str) -> tuple[str, list[str]]:
    """The OpenAI base URL from this host and the models of a deployed stack."""
    from stack_runner.stacks import open_stack  # needs the Pulumi engine; --url does not

    outputs = {key: value.value for key, value in open_stack(stack_name).outputs().items()}
    if not outputs:
        raise CheckError(
            f"stack {stack_name!r} has no outputs: deploy it first (scripts/deploy {stack_name})"
        )
    host_url = outputs.get("hostUrl")
    if not host_url:
        raise CheckError(
            f"stack {stack_name!r} has no hostUrl: its judge is not reachable from this host "
            f"(its in-network URL is {outputs.get('openaiBaseUrl')}). Forward a port to it "
            "(e.g. kubectl -n knitfab port-forward svc/ollama 11434) and pass "
            "--url http://127.0.0.1:11434/v1 --model NAME"
        )
    return openai_base(host_url), list(outputs.get("models") or [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/judge-check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("stack", nargs="?", help="the deployed stack: local or knitfab")
    parser.add_argument("--url", help="the OpenAI-compatible base URL; skips the stack look-up")
    parser.add_argument("--model", help="the judge model (default: the stack's first model)")
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS, help="reply bound")
    parser.add_argument("--timeout", type=float, default=TIMEOUT_SECONDS, help="seconds")
    args = parser.parse_args(argv)
    if not args.stack and not args.url:
        parser.error("name a stack, or give --url")
    if args.url and not args.model:
        parser.error("--url needs --model (there is no stack to take the model from)")
    models: list[str] = []
    try:
        if args.url:
            base_url = openai_base(args.url)
        else:
            base_url, models = stack_target(args.stack)
        model = args.model or (models[0] if models else None)
        if model is None:
            raise CheckError(f"stack {args.stack!r} configures no models: pass --model NAME")
        print(f"asking {model} at {base_url} ...", file=sys.stderr)
        verdict, seconds = ask_judge(base_url, model, args.max_tokens, args.timeout)
    except CheckError as error:
        print(f"judge-check: {error}", file=sys.stderr)
        return 1
    print(f"verdict: score {verdict.score}: {verdict.reason}")
    print(f"latency: {seconds:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
