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
# What the registry names as judge:1's manifest now, and what it was before.
DIGEST = f"sha256:{'1' * 64}"
EARLIER = f"sha256:{'0' * 64}"


class FakeRegistry(http.server.BaseHTTPRequestHandler):
    have: ClassVar[set[str]] = {"/v2/library/judge/manifests/1", "/v2/nameless/judge/manifests/1"}
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        FakeRegistry.seen.append((self.path, self.headers.get("Accept", "")))
        if self.path.startswith("/v2/private/"):
            status = 401
        else:
            status = 200 if self.path in self.have else 404
        self.send_response(status)
        if status == 200 and not self.path.startswith("/v2/nameless/"):
            self.send_header("Docker-Content-Digest", DIGEST)
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


def test_a_pinned_model_whose_tag_names_its_manifest_passes(registry: str):
    assert check_models(plain(registry, f"{registry}/library/judge:1@{DIGEST}"), "local") == []
    # The tag is looked up, not the pin.
    assert FakeRegistry.seen[0][0] == "/v2/library/judge/manifests/1"


def test_a_pinned_model_whose_tag_moved_is_a_config_error_naming_both_digests(registry: str):
    with pytest.raises(ConfigError) as error:
        check_models(plain(registry, f"{registry}/library/judge:1@{EARLIER}"), "knitfab")
    name = f"{registry}/library/judge:1"
    assert str(error.value) == (
        f"ollama-judge:models[0] pins {name} to {EARLIER}, but registry {registry} now has "
        f"{DIGEST} under that name: a judge that pulled it would be another model, whose "
        "scores do not compare. Nothing was changed; the running judge keeps its model. "
        "Either pin the new model: pulumi config set --path 'ollama-judge:models[0]' "
        f"'{name}@{DIGEST}' --stack knitfab; or keep the pinned one: push it to {registry} "
        "again under that name (or under a name of its own, and pin that)"
    )


def test_a_pin_the_registry_cannot_confirm_is_left_to_the_judge(registry: str):
    nameless = f"{registry}/nameless/judge:1@{EARLIER}"
    [warning] = check_models(plain(registry, nameless), "local")
    assert "did not name the digest" in warning and "the judge checks the pin" in warning
    unreachable = JudgeSettings(models=(f"127.0.0.1:1/library/judge:1@{EARLIER}",))
    [warning] = check_models(unreachable, "local")
    assert warning.endswith("the judge's pull will tell, and it checks the pin")
