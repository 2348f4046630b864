"""The manifest look-up before anything changes, against a small registry stand-in that
answers like a registry: 200 for manifests it has, 404 for others, 401 where it wants a
login."""

from __future__ import annotations

import http.server
from collections.abc import Iterator
from typing import ClassVar

import pytest

from components import model_registry
from components.config import JudgeSettings, Registry
from components.config_rules import ConfigError
from components.model_registry import check_models, registry_and_manifest
from tests.support.http_server import serving

REAL_MANIFEST_STATUS = model_registry.manifest_status


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    have: ClassVar[set[str]] = {"/v2/library/judge/manifests/1"}
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        FakeRegistry.seen.append((self.path, self.headers.get("Accept", "")))
        if self.path.startswith("/v2/private/"):
            status = 401
        else:
            status = 200 if self.path in self.have else 404
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def real_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tests' stand-in answers 200 for everything; here the real look-up runs."""
    monkeypatch.setattr(model_registry, "manifest_status", REAL_MANIFEST_STATUS)


@pytest.fixture
def registry() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeRegistry)
    FakeRegistry.seen.clear()
    with serving(server):
        yield f"127.0.0.1:{server.server_address[1]}"


def plain(host: str, *models: str) -> JudgeSettings:
    return JudgeSettings(models=models, registries={host: Registry(insecure=True)})


@pytest.mark.parametrize(
    ("reference", "looked_up"),
    [
        ("llama3.2", ("registry.ollama.ai", "/v2/library/llama3.2/manifests/latest")),
        ("qwen2.5:7b", ("registry.ollama.ai", "/v2/library/qwen2.5/manifests/7b")),
        ("me/judge:2", ("registry.ollama.ai", "/v2/me/judge/manifests/2")),
        ("reg.example:5000/library/judge:1", ("reg.example:5000", "/v2/library/judge/manifests/1")),
    ],
)
def test_references_take_ollamas_defaults(reference: str, looked_up: tuple[str, str]):
    assert registry_and_manifest(reference) == looked_up


def test_a_model_the_registry_has_passes(registry: str):
    assert check_models(plain(registry, f"{registry}/library/judge:1"), "local") == []
    path, accept = FakeRegistry.seen[0]
    assert path == "/v2/library/judge/manifests/1"
    assert "manifest.v2+json" in accept


def test_a_model_the_registry_does_not_have_is_a_config_error(registry: str):
    models = (f"{registry}/library/judge:1", f"{registry}/library/judge:2")
    with pytest.raises(ConfigError) as error:
        check_models(plain(registry, *models), "local")
    message = str(error.value)
    assert message.startswith(f"ollama-judge:models[1] is '{registry}/library/judge:2'")
    assert f"registry {registry} has no such model" in message
    assert "Nothing was changed" in message
    assert "config get ollama-judge:models --stack local" in message


def test_a_registry_that_wants_a_login_is_a_warning(registry: str):
    warnings = check_models(plain(registry, f"{registry}/private/judge:1"), "local")
    assert len(warnings) == 1 and "answered 401" in warnings[0]


def test_an_unreachable_registry_is_a_warning():
    settings = JudgeSettings(models=("127.0.0.1:1/library/judge:1",))
    [warning] = check_models(settings, "local")
    assert "could not check that registry 127.0.0.1:1 has 127.0.0.1:1/library/judge:1" in warning
    assert "the judge's pull will tell" in warning


def test_tls_is_the_default_and_plain_http_needs_the_opt_in(registry: str):
    settings = JudgeSettings(models=(f"{registry}/library/judge:1",))
    [warning] = check_models(settings, "local")
    assert f"https://{registry}/v2/" in warning, "no plain HTTP without insecure"
