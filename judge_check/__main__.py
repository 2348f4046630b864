"""`scripts/judge-check`: asks a deployed judge one question of the evaluation's kind, and
prints its verdict and how long the judge took (the question and the client:
judge_check/client.py)."""

import argparse
import sys

from judge_check.client import (
    MAX_TOKENS,
    TIMEOUT_SECONDS,
    CheckError,
    JudgeClient,
    model_digest,
    openai_base,
)


def stack_target(stack_name: str, model: str | None) -> tuple[str, str, str | None]:
    """The judge's URL from this host of a deployed stack, `model` or the stack's first, and
    the digest the stack deployed it with (if it says)."""
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
    models = outputs.get("models") or []
    if not (model or models):
        raise CheckError(f"stack {stack_name!r} configures no models: pass --model NAME")
    model = model or models[0]
    return host_url, model, (outputs.get("modelDigests") or {}).get(model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/judge-check", description=__doc__)
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
    try:
        url, model, deployed = (
            (args.url, args.model, None) if args.url else stack_target(args.stack, args.model)
        )
        base_url = openai_base(url)
        print(f"asking {model} at {base_url} ...", file=sys.stderr)
        verdict, seconds = JudgeClient(base_url, args.timeout).ask(model, args.max_tokens)
        digest = model_digest(base_url, model, args.timeout)
    except CheckError as error:
        print(f"judge-check: {error}", file=sys.stderr)
        return 1
    print(f"verdict: score {verdict.score}: {verdict.reason}")
    print(f"latency: {seconds:.2f}s")
    print(f"digest: {digest}")
    if deployed and digest != deployed:
        print(
            f"judge-check: {model} answered as {digest}, but stack {args.stack} deployed it as "
            f"{deployed}: the judge's model changed since (scripts/judge-models pins it)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
