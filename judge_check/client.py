"""One LLM-as-a-Judge question as the evaluation asks it, through Ollama's OpenAI-compatible
API with the `openai` client, and its verdict. A judge that does not answer, has not got the
model, or answers something that is not a verdict raises CheckError saying what to do."""

import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai

# What one evaluation case looks like: the article the classifier read, its answer and
# the truth. The judge's job is to say how well the prediction fits.
ARTICLE = (
    "The central bank raised its key interest rate by a quarter point on Wednesday, the "
    "third increase this year, saying inflation was still well above its target. "
    "Shares of the country's largest lenders rose after the announcement, while the "
    "currency held steady against the dollar."
)
PREDICTED_CATEGORY = "Business"
TRUE_CATEGORY = "Business"

# G-Eval: the criterion, then the evaluation steps the judge follows, then the form.
INSTRUCTION = """\
You are evaluating a news topic classifier.

Evaluation criterion - Correctness (1-5): how well the predicted category fits the \
article, given its true category. 5: the prediction is the true category. 3: the \
prediction is defensible but not the true category. 1: the prediction does not fit.

Evaluation steps:
1. Read the news article and note its main topic.
2. Compare the predicted category with the true category and with the topic.
3. Assign a score from 1 to 5 according to the criterion.

Answer with JSON only: {"score": <integer 1-5>, "reason": "<one short sentence>"}."""

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string", "maxLength": 200},
    },
    "required": ["score", "reason"],
    "additionalProperties": False,
}

# A verdict is a few dozen tokens; the bound keeps a rambling model from running on.
MAX_TOKENS = 200
TIMEOUT_SECONDS = 120.0


class CheckError(Exception):
    """The check failed; the message says why and what to do."""


@dataclass(frozen=True)
class Verdict:
    score: int
    reason: str


def case_message(article: str, predicted: str, true: str) -> str:
    return f"News article:\n{article}\n\nPredicted category: {predicted}\nTrue category: {true}"


def verdict_request(model: str, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """The keyword arguments of `chat.completions.create` for one judge question."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": INSTRUCTION},
            {"role": "user", "content": case_message(ARTICLE, PREDICTED_CATEGORY, TRUE_CATEGORY)},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA, "strict": True},
        },
        # Ollama reads `max_tokens` (as num_predict), not `max_completion_tokens`.
        "max_tokens": max_tokens,
        "temperature": 0,
    }


def parse_verdict(content: str | None) -> Verdict:
    try:
        data = json.loads(content or "")
    except json.JSONDecodeError as error:
        raise CheckError(f"the judge answered, but not with JSON: {content!r}") from error
    if not isinstance(data, dict):
        raise CheckError(f"the judge answered, but not with a JSON object: {content!r}")
    score, reason = data.get("score"), data.get("reason")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise CheckError(f"the verdict's score is not an integer from 1 to 5: {content!r}")
    if not isinstance(reason, str):
        raise CheckError(f"the verdict's reason is not a string: {content!r}")
    return Verdict(score=score, reason=reason)


def openai_base(url: str) -> str:
    """`url` as the OpenAI client's base: a bare server URL gets Ollama's `/v1`."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else f"{url}/v1"


def model_digest(base_url: str, model: str, timeout: float = TIMEOUT_SECONDS) -> str:
    """The digest of `model`'s manifest as the judge has it (Ollama's /api/tags): which
    model answered, as `sha256:<hex>`."""
    url = f"{base_url.removesuffix('/v1')}/api/tags"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            listed = json.load(answer).get("models") or []
    except (OSError, ValueError) as error:
        raise CheckError(f"the judge's models cannot be listed (GET {url}: {error})") from None
    # Ollama names a model written without a tag by its `latest`.
    name = model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"
    for entry in listed:
        if name in (entry.get("name"), entry.get("model")):
            return f"sha256:{entry.get('digest')}"
    raise CheckError(f"the judge does not list {model} (GET {url})")


def _error_message(error: openai.APIStatusError) -> str:
    """The server's own words: Ollama answers {"error": {"message": ...}}, and the client
    keeps the inner object as the error's body."""
    detail = error.body.get("message") if isinstance(error.body, dict) else None
    return str(detail) if detail else error.message


class JudgeClient:
    """The evaluation's client of one judge, kept for every question (one per thread)."""

    def __init__(self, base_url: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base_url, self.timeout = base_url, timeout
        # Ollama wants no key; the client insists on one. No retries: a check reports what
        # happened the first time.
        self.client = openai.OpenAI(
            base_url=base_url, api_key="ollama", timeout=timeout, max_retries=0
        )

    def ask(self, model: str, max_tokens: int = MAX_TOKENS) -> tuple[Verdict, float]:
        """The verdict, and the seconds the answer took."""
        judge, started = f"the judge at {self.base_url}", time.monotonic()
        try:
            reply = self.client.chat.completions.create(**verdict_request(model, max_tokens))
        except openai.APITimeoutError as error:
            raise CheckError(f"{judge} did not answer within {self.timeout:g}s") from error
        except openai.APIConnectionError as error:
            raise CheckError(
                f"no judge answers at {self.base_url} ({error.__cause__ or error}): is it "
                "deployed and running?"
            ) from error
        except openai.NotFoundError as error:
            raise CheckError(
                f"{judge} has no model {model!r} ({_error_message(error)}): pull it, or pass "
                "--model with one it has"
            ) from error
        except openai.APIStatusError as error:
            raise CheckError(
                f"{judge} answered {error.status_code}: {_error_message(error)}"
            ) from error
        seconds = time.monotonic() - started
        if not reply.choices:
            raise CheckError(f"{judge} answered with no choices")
        choice = reply.choices[0]
        if choice.finish_reason == "length":
            raise CheckError(
                f"the verdict did not end within {max_tokens} tokens: {choice.message.content!r}"
            )
        return parse_verdict(choice.message.content), seconds
