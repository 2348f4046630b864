"""judge_check/ against a tiny local HTTP server that plays Ollama's
OpenAI-compatible API: what the request looks like, and what the user sees when the
judge answers, cannot be reached, lacks the model, or answers something else."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

import stack_runner.stacks
from judge_check import client as judge_check
from judge_check.__main__ import main as judge_check_main
from tests.support.http_server import send_json, serving


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0


def completion(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    """A chat completion as Ollama's /v1/chat/completions returns it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "judge",
        "system_fingerprint": "fp_ollama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


JUDGE_DIGEST = "ab" * 32


@dataclass
class FakeJudge:
    url: str
    replies: list[Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    # What /api/tags lists, as Ollama does: a model without a tag by its `latest`.
    tags: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"name": f"{name}:latest", "model": f"{name}:latest", "digest": digest}
            for name, digest in (("judge", JUDGE_DIGEST), ("other", "cd" * 32))
        ]
    )


@pytest.fixture
def fake_judge() -> Iterator[FakeJudge]:
    judge = FakeJudge(url="", replies=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            judge.requests.append(
                {"path": self.path, "body": json.loads(self.rfile.read(length) or b"null")}
            )
            reply = judge.replies.pop(0) if judge.replies else Reply(500, {"error": "no reply"})
            time.sleep(reply.delay)
            # The client may have given up (the timeout test).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                send_json(self, reply.status, reply.body)

        def do_GET(self) -> None:
            if self.path == "/api/tags":
                send_json(self, 200, {"models": judge.tags})
            else:
                send_json(self, 404, {"error": "not found"})

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    judge.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    with serving(server):
        yield judge


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = judge_check_main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_request_has_the_evaluation_shape(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    status, _, _ = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 0
    (request,) = fake_judge.requests
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "judge"
    system, user = body["messages"]
    assert system["role"] == "system"
    assert "Evaluation steps" in system["content"] and "1 to 5" in system["content"]
    assert user["role"] == "user"
    assert judge_check.ARTICLE in user["content"]
    assert f"Predicted category: {judge_check.PREDICTED_CATEGORY}" in user["content"]
    assert f"True category: {judge_check.TRUE_CATEGORY}" in user["content"]
    assert body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["score", "reason"]
    assert schema["properties"]["score"] == {"type": "integer", "minimum": 1, "maximum": 5}
    assert schema["properties"]["reason"]["type"] == "string"
    assert body["max_tokens"] == judge_check.MAX_TOKENS
    assert body["temperature"] == 0
    assert body.get("stream") in (None, False)


def test_a_verdict_is_printed_with_the_latency(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion('{"score": 4, "reason": "close enough"}')))
    status, out, _ = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 0
    assert "verdict: score 4: close enough" in out
    assert "latency: " in out


def test_max_tokens_option_bounds_the_reply(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion('{"score": 4, "reason": "ok"}')))
    run(capsys, "--url", fake_judge.url, "--model", "judge", "--max-tokens", "32")
    assert fake_judge.requests[0]["body"]["max_tokens"] == 32


def test_a_missing_model_fails_with_the_servers_words(fake_judge, capsys):
    error = {"error": {"message": "model 'judge' not found", "type": "not_found_error"}}
    fake_judge.replies.append(Reply(404, error))
    status, out, err = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 1
    assert out == ""
    assert "has no model 'judge'" in err
    assert "model 'judge' not found" in err


def test_a_server_that_is_not_there_fails_clearly(capsys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status, _, err = run(capsys, "--url", f"http://127.0.0.1:{port}/v1", "--model", "judge")
    assert status == 1
    assert f"no judge answers at http://127.0.0.1:{port}/v1" in err


def test_a_server_that_does_not_answer_in_time_fails(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion("{}"), delay=2))
    status, _, err = run(capsys, "--url", fake_judge.url, "--model", "judge", "--timeout", "0.5")
    assert status == 1
    assert "did not answer within 0.5s" in err


def test_a_server_error_is_reported_with_its_status(fake_judge, capsys):
    fake_judge.replies.append(Reply(500, {"error": {"message": "llama runner crashed"}}))
    status, _, err = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 1
    assert "answered 500: llama runner crashed" in err


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("the prediction fits", "not with JSON"),
        ('["score", 5]', "not with a JSON object"),
        ('{"score": "5", "reason": "fits"}', "score is not an integer from 1 to 5"),
        ('{"score": 9, "reason": "fits"}', "score is not an integer from 1 to 5"),
        ('{"score": true, "reason": "fits"}', "score is not an integer from 1 to 5"),
        ('{"score": 5}', "reason is not a string"),
    ],
)
def test_a_reply_that_is_not_a_verdict_fails(fake_judge, capsys, content, complaint):
    fake_judge.replies.append(Reply(body=completion(content)))
    status, _, err = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 1
    assert complaint in err


def test_a_verdict_cut_off_at_the_token_bound_fails(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion('{"score": 3, "reason": "abab', "length")))
    status, _, err = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 1
    assert f"did not end within {judge_check.MAX_TOKENS} tokens" in err


def test_url_without_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        judge_check_main(["--url", "http://127.0.0.1:1/v1"])
    assert stopped.value.code == 2
    assert "--url needs --model" in capsys.readouterr().err


def test_neither_stack_nor_url_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        judge_check_main([])
    assert stopped.value.code == 2


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434/v1"),
        ("http://127.0.0.1:11434/", "http://127.0.0.1:11434/v1"),
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
        ("http://127.0.0.1:11434/v1/", "http://127.0.0.1:11434/v1"),
    ],
)
def test_a_bare_server_url_gets_the_openai_path(given, base):
    assert judge_check.openai_base(given) == base


class FakeStack:
    def __init__(self, outputs: dict[str, Any]):
        self._outputs = outputs

    def outputs(self) -> dict[str, SimpleNamespace]:
        return {key: SimpleNamespace(value=value) for key, value in self._outputs.items()}


def use_stack(monkeypatch: pytest.MonkeyPatch, outputs: dict[str, Any]) -> list[str]:
    opened: list[str] = []

    def open_stack(name: str) -> FakeStack:
        opened.append(name)
        return FakeStack(outputs)

    monkeypatch.setattr(stack_runner.stacks, "open_stack", open_stack)
    return opened


def test_a_stack_gives_the_host_url_and_its_first_model(fake_judge, capsys, monkeypatch):
    host_url = fake_judge.url.removesuffix("/v1")
    opened = use_stack(
        monkeypatch,
        {
            "hostUrl": host_url,
            "openaiBaseUrl": "http://ollama:11434/v1",
            "models": ["judge", "other"],
        },
    )
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    status, _, _ = run(capsys, "local")
    assert status == 0
    assert opened == ["local"]
    assert fake_judge.requests[0]["body"]["model"] == "judge"


def test_model_option_overrides_the_stacks_model(fake_judge, capsys, monkeypatch):
    use_stack(monkeypatch, {"hostUrl": fake_judge.url.removesuffix("/v1"), "models": ["judge"]})
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    run(capsys, "local", "--model", "other")
    assert fake_judge.requests[0]["body"]["model"] == "other"


def test_url_option_skips_the_stack(fake_judge, capsys, monkeypatch):
    opened = use_stack(monkeypatch, {})
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    status, _, _ = run(capsys, "local", "--url", fake_judge.url, "--model", "judge")
    assert status == 0
    assert opened == []


def test_a_stack_without_host_url_says_how_to_reach_the_judge(capsys, monkeypatch):
    use_stack(
        monkeypatch,
        {"hostUrl": None, "openaiBaseUrl": "http://ollama:11434/v1", "models": ["judge"]},
    )
    status, _, err = run(capsys, "knitfab")
    assert status == 1
    assert "has no hostUrl" in err and "port-forward" in err and "--url" in err


def test_a_stack_never_deployed_says_to_deploy_it(capsys, monkeypatch):
    use_stack(monkeypatch, {})
    status, _, err = run(capsys, "local")
    assert status == 1
    assert "scripts/deploy local" in err


def test_a_stack_without_models_asks_for_one(fake_judge, capsys, monkeypatch):
    use_stack(monkeypatch, {"hostUrl": fake_judge.url.removesuffix("/v1"), "models": []})
    status, _, err = run(capsys, "local")
    assert status == 1
    assert "--model" in err


def test_a_judge_client_asks_again_and_again_and_says_which_answer_is_no_verdict(fake_judge):
    fake_judge.replies += [
        Reply(body=completion('{"score": 5, "reason": "fits"}')),
        Reply(body=completion("the prediction fits")),
        Reply(body=completion('{"score": 4, "reason": "close"}')),
    ]
    judge = judge_check.JudgeClient(fake_judge.url)
    verdict, seconds = judge.ask("judge")
    assert verdict == judge_check.Verdict(score=5, reason="fits")
    assert seconds >= 0
    with pytest.raises(judge_check.CheckError, match="not with JSON"):
        judge.ask("judge")
    assert judge.ask("judge")[0].score == 4
    assert len(fake_judge.requests) == 3


def test_the_digest_of_the_model_that_answered_is_printed(fake_judge, capsys):
    fake_judge.replies.append(Reply(body=completion('{"score": 4, "reason": "close enough"}')))
    status, out, _ = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 0
    assert out.splitlines()[2] == f"digest: sha256:{JUDGE_DIGEST}"


def test_a_model_that_answers_as_another_than_the_stack_deployed_fails(
    fake_judge, capsys, monkeypatch
):
    deployed = f"sha256:{'0' * 64}"
    use_stack(monkeypatch, {"hostUrl": fake_judge.url.removesuffix("/v1"), "models": ["judge"],
                            "modelDigests": {"judge": deployed}})  # fmt: skip
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    status, out, err = run(capsys, "local")
    assert status == 1
    assert f"digest: sha256:{JUDGE_DIGEST}" in out
    assert (
        f"judge answered as sha256:{JUDGE_DIGEST}, but stack local deployed it as {deployed}" in err
    )


def test_a_judge_that_does_not_list_the_model_that_answered_fails(fake_judge, capsys):
    fake_judge.tags.clear()
    fake_judge.replies.append(Reply(body=completion('{"score": 5, "reason": "fits"}')))
    status, _, err = run(capsys, "--url", fake_judge.url, "--model", "judge")
    assert status == 1
    assert "the judge does not list judge (GET http://127.0.0.1:" in err
