"""The judge's parts end to end, in throwaway containers: a judge model made here, pushed
to a real registry on this machine with `ollama push`, pulled by an Ollama container of
the pinned image over TLS (with the CA mounted) and over plain HTTP (`--insecure`),
then asked for a verdict, directly and through scripts/judge-check.

Every Docker object here is named `ollama-judge-parts-<run>-*` and removed afterwards;
the stack's own names (`ollama`, `ollama-net`) are never touched.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import docker_host as host
from tests.e2e import judge_model
from tests.e2e.engine import PROJECT_DIR
from tests.e2e.ollama_server import (
    OllamaServer,
    Trust,
    bundle_trust,
    cert_dir_trust,
    running_ollama,
)
from tests.e2e.registry import PREFIX, Registry, docker_network, running_registry

pytestmark = [pytest.mark.e2e, pytest.mark.judge]

RUN = uuid.uuid4().hex[:6]
MODEL = "judge:1"
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "reason": {"type": "string"},
    },
    "required": ["score", "reason"],
}


def judge_name(role: str) -> str:
    return f"{PREFIX}-{RUN}-{role}"


@pytest.fixture(scope="module")
def network(docker: None) -> Iterator[str]:
    with docker_network(f"{PREFIX}-{RUN}-net") as name:
        yield name


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> judge_model.ModelFiles:
    return judge_model.write_judge_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="module")
def tls_registry(
    tmp_path_factory: pytest.TempPathFactory,
    network: str,
    judge_image: str,
    tiny_model: judge_model.ModelFiles,
) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("tls-registry"), network) as registry:
        registry.push(tiny_model, MODEL, judge_image)
        yield registry


@pytest.fixture(scope="module")
def plain_registry(
    tmp_path_factory: pytest.TempPathFactory,
    network: str,
    judge_image: str,
    tiny_model: judge_model.ModelFiles,
) -> Iterator[Registry]:
    registry_dir = tmp_path_factory.mktemp("plain-registry")
    with running_registry(registry_dir, network, tls=False) as registry:
        registry.push(tiny_model, MODEL, judge_image)
        yield registry


@pytest.fixture(scope="module")
def judge(tls_registry: Registry, judge_image: str) -> Iterator[OllamaServer]:
    """A judge that pulled the tiny model over TLS, trusting the registry's CA through
    a read-only mount into its certificate directory."""
    assert tls_registry.ca is not None
    with running_ollama(
        judge_name("judge"), judge_image, tls_registry.network, cert_dir_trust(tls_registry.ca)
    ) as server:
        server.exec("ollama", "pull", tls_registry.reference(MODEL))
        yield server


def post_json(url: str, body: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def chat(server: OllamaServer, model: str, **options: Any) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "Does 'Business' fit this article?"}],
        "max_tokens": 64,
        **options,
    }
    return post_json(f"{server.url}/v1/chat/completions", body)


def pull(
    name: str, image: str, registry: Registry, trust: Trust | None, *flags: str
) -> subprocess.CompletedProcess[str]:
    """`ollama pull` in a fresh judge container; the result, whether it worked or not."""
    with running_ollama(name, image, registry.network, trust) as server:
        return server.try_exec("ollama", "pull", *flags, registry.reference(MODEL))


# --- pulling over TLS ---------------------------------------------------------------


def test_a_judge_trusting_the_ca_pulls_over_tls_and_answers(judge, tls_registry):
    listed = judge.exec("ollama", "list").stdout
    assert tls_registry.reference(MODEL) in listed
    # Every blob went through the registry's redirect to the file server.
    blob_gets = [r for r in tls_registry.requests() if r.is_blob and r.method == "GET"]
    assert blob_gets and {r.status for r in blob_gets} == {307}

    reply = chat(judge, tls_registry.reference(MODEL))
    (choice,) = reply["choices"]
    assert choice["message"]["content"] == judge_model.FREE_REPLY
    assert choice["finish_reason"] == "stop"


def test_a_second_pull_requests_no_blob(judge, tls_registry):
    before = len(tls_registry.requests())
    judge.exec("ollama", "pull", tls_registry.reference(MODEL))
    since = tls_registry.requests()[before:]
    assert since, "the second pull asked the registry nothing at all"
    assert [r for r in since if r.is_blob] == []
    assert any("/manifests/" in r.uri for r in since)


def test_a_judge_on_another_network_pulls_once_the_registry_is_connected(tls_registry, judge_image):
    """As a judge on the stack's own network would: the registry joins that network."""
    assert tls_registry.ca is not None
    with docker_network(f"{PREFIX}-{RUN}-other-net") as other:
        tls_registry.connect(other)
        try:
            with running_ollama(
                judge_name("other-net"), judge_image, other, cert_dir_trust(tls_registry.ca)
            ) as server:
                server.exec("ollama", "pull", tls_registry.reference(MODEL))
        finally:
            for name in (tls_registry.host, tls_registry.blobs_host):
                subprocess.run(
                    ["docker", "network", "disconnect", other, name],
                    capture_output=True,
                    check=False,
                )


def test_a_judge_without_the_ca_refuses_the_registry(tls_registry, judge_image):
    result = pull(judge_name("no-ca"), judge_image, tls_registry, None)
    assert result.returncode != 0
    assert "certificate signed by unknown authority" in result.stdout + result.stderr


def test_a_bundle_named_by_ssl_cert_file_is_trusted(tls_registry, judge_image, tmp_path):
    """A user's whole bundle (public roots and their private CA) mounted read-only and
    named by SSL_CERT_FILE, in place of the image's bundle."""
    assert tls_registry.ca is not None
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text(
        Path("/etc/ssl/certs/ca-certificates.crt").read_text() + tls_registry.ca.read_text()
    )
    result = pull(judge_name("bundle"), judge_image, tls_registry, bundle_trust(bundle))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_registry_that_answers_blobs_itself_fails_the_default_pull(
    tmp_path, network, judge_image, tiny_model
):
    """Why the test registry redirects: Ollama 0.34.1's pull takes each blob's download
    URL from a redirect's Location; a stock registry answers 200 with the blob."""
    with running_registry(tmp_path, network, redirect=False) as registry:
        assert registry.ca is not None
        registry.push(tiny_model, MODEL, judge_image)
        result = pull(judge_name("stock"), judge_image, registry, cert_dir_trust(registry.ca))
    assert result.returncode != 0
    assert "no Location header in response" in result.stdout + result.stderr


# --- plain HTTP, only when asked ----------------------------------------------------


def test_plain_http_is_refused_without_insecure(plain_registry, judge_image):
    result = pull(judge_name("plain-refused"), judge_image, plain_registry, None)
    assert result.returncode != 0
    assert "HTTP response to HTTPS client" in result.stdout + result.stderr


def test_plain_http_pull_with_insecure_then_a_verdict(plain_registry, judge_image):
    reference = plain_registry.reference(MODEL)
    with running_ollama(judge_name("plain"), judge_image, plain_registry.network) as server:
        server.exec("ollama", "pull", "--insecure", reference)
        reply = chat(
            server,
            reference,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA},
            },
        )
    verdict = json.loads(reply["choices"][0]["message"]["content"])
    assert verdict == {"score": judge_model.SCORE, "reason": judge_model.FREE_REPLY}


# --- the model's answers ------------------------------------------------------------


def test_a_schema_constrained_verdict_is_short_and_valid(judge, tls_registry):
    reply = chat(
        judge,
        tls_registry.reference(MODEL),
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA},
        },
    )
    (choice,) = reply["choices"]
    assert choice["finish_reason"] == "stop"
    verdict = json.loads(choice["message"]["content"])
    assert set(verdict) == {"score", "reason"}
    assert isinstance(verdict["score"], int) and 1 <= verdict["score"] <= 5
    assert isinstance(verdict["reason"], str)
    assert reply["usage"]["completion_tokens"] < 64


def test_a_verdict_costs_hundreds_of_version_calls_not_more(judge, tls_registry):
    """How much longer the tiny model's answers take than the cheapest call, measured
    in the same run (medians of five): a bound on what a judge check costs in tests."""

    def median_seconds(call) -> float:
        times = []
        for _ in range(5):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2]

    reference = tls_registry.reference(MODEL)
    schema = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": VERDICT_SCHEMA}}
    chat(judge, reference)  # loaded before timing
    version = median_seconds(lambda: urllib.request.urlopen(f"{judge.url}/api/version").read())
    free = median_seconds(lambda: chat(judge, reference))
    verdict = median_seconds(lambda: chat(judge, reference, response_format=schema))
    print(
        f"\nfree reply / version call: {free / version:.0f}x ({free:.3f}s / {version:.4f}s); "
        f"verdict / version call: {verdict / version:.0f}x ({verdict:.3f}s)"
    )
    # Under Ollama 0.34.1 the schema costs the tiny model nothing measurable: a free reply
    # and a verdict both take milliseconds, in either order from run to run.
    assert max(free, verdict) < 60


# --- local-only, kept loaded ---------------------------------------------------------


def test_the_judge_refuses_cloud_models_with_ollama_no_cloud(judge):
    """OLLAMA_NO_CLOUD=1 (set on every container here): no cloud model lists fetched at
    start, and a cloud-hosted model is refused instead of proxied to the cloud."""
    with urllib.request.urlopen(f"{judge.url}/api/status") as response:
        assert json.loads(response.read())["cloud"] == {"disabled": True, "source": "env"}
    with pytest.raises(urllib.error.HTTPError) as refused:
        chat(judge, "gpt-oss:120b-cloud")
    assert refused.value.code == 403
    assert "ollama cloud is disabled" in refused.value.read().decode()


def expiry_years(server: OllamaServer) -> dict[str, int]:
    with urllib.request.urlopen(f"{server.url}/api/ps") as response:
        loaded = json.loads(response.read())["models"]
    return {model["name"]: int(model["expires_at"][:4]) for model in loaded}


def test_a_model_preloaded_with_keep_alive_stays_loaded_after_openai_requests(judge, tls_registry):
    """A load request with keep_alive -1 keeps the model loaded for good; requests on
    /v1 carry no keep_alive, so they do not shorten it. The CLI does the same load
    inside the container (the image has no HTTP client): `ollama run --keepalive=-1s`.
    The server sets a model's expiry once the request has let go of it, just after it
    answers, so a changed expiry is waited for."""
    reference = tls_registry.reference(MODEL)

    def expires(forever: bool) -> None:
        host.wait_until(
            lambda: (expiry_years(judge)[reference] > 2100) == forever,
            5,
            f"{reference} to be kept loaded {'for good' if forever else 'for a while only'}",
        )

    judge.exec("sh", "-c", f'ollama run --keepalive=-1s {reference} "" </dev/null')
    expires(forever=True)
    chat(judge, reference)
    time.sleep(1)  # for a change that would come once the request let go of the model
    assert expiry_years(judge)[reference] > 2100
    # A load request on the API does the same: {"model": ..., "keep_alive": -1}.
    post_json(f"{judge.url}/api/generate", {"model": reference, "keep_alive": "5m"})
    expires(forever=False)
    post_json(f"{judge.url}/api/generate", {"model": reference, "keep_alive": -1})
    expires(forever=True)


# --- scripts/judge-check ------------------------------------------------------------


def judge_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PROJECT_DIR / "scripts" / "judge-check"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_judge_check_prints_a_schema_valid_verdict(judge, tls_registry):
    result = judge_check("--url", f"{judge.url}/v1", "--model", tls_registry.reference(MODEL))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"verdict: score {judge_model.SCORE}: {judge_model.FREE_REPLY}"
    assert lines[1].startswith("latency: ") and lines[1].endswith("s")


def test_judge_check_says_when_the_model_is_missing(judge):
    result = judge_check("--url", f"{judge.url}/v1", "--model", "absent:1")
    assert result.returncode == 1
    assert "has no model 'absent:1'" in result.stderr
    assert "not found" in result.stderr


# --- the large model ----------------------------------------------------------------


def test_a_large_model_is_pulled_in_ranged_parts(
    tmp_path_factory, network, judge_image, tls_registry
):
    """A few hundred MB: Ollama downloads it in parts of 100 MB with Range requests to
    the redirect's target, so the file server must honour ranges."""
    assert tls_registry.ca is not None
    large = judge_model.write_judge_model(tmp_path_factory.mktemp("large"), judge_model.LARGE)
    reference = tls_registry.push(large, "judge-large:1", judge_image)
    with running_ollama(
        judge_name("large"), judge_image, network, cert_dir_trust(tls_registry.ca)
    ) as server:
        server.exec("ollama", "pull", reference)
        parts = re.findall(r"downloading \w+ in (\d+) ", server.logs())
        reply = chat(server, reference)
    assert max(int(n) for n in parts) > 1, parts
    assert reply["choices"][0]["message"]["content"] == judge_model.FREE_REPLY
