"""A real OCI registry on this machine that Ollama can pull judge models from.

The registry is Debian's `docker-registry` (the CNCF distribution registry 2.8), run as
a container on a Docker network, so that an Ollama container on the same network
reaches it by name: models are `REGISTRY:5000/library/judge:1`.

Why a second server beside it: Ollama's pull (server/download.go in v0.24.0 and
v0.34.1) first GETs each blob, stops at the first redirect to another host name and
downloads the blob in ranged parts from that redirect's `Location`; a blob answered 200
directly fails with "no Location header in response". So the registry runs
distribution's own `redirect` storage middleware, which answers blob GETs and HEADs with
307 to `BLOBS:5001/docker/registry/v2/blobs/...`, and a static file server (Debian's `caddy`)
serves the registry's storage directory there, read-only, with Range support. Both come
from Debian packages, in one small image (images/build-registry-image.sh).

TLS by default: a CA made here with openssl signs one certificate for both host names
(and 127.0.0.1, where the ports are published for this host). A client trusts it by
the settings in `judge_trust` (Ollama reads Go's system roots). Plain HTTP only with
`tls=False`; Ollama then needs `ollama pull --insecure`.

Reached by name, the registry serves only containers on its networks; this host cannot
resolve the name. With `on_gateway=True` both servers are published on addresses of the
Docker host instead, and model references and the redirect use them: this host reaches
them directly, and a container on any network through the host, as a user's registry is
reached from the workstation and from the judge alike. The registry is published on the
host's address on the default bridge (usually 172.17.0.1), the blob server on the host's
address on the registry's own network: two addresses, since Ollama follows a redirect
to the same host itself and then finds no Location. The certificate covers both.

The registry logs one JSON line per request (`docker logs`); `Registry.requests()`
reads them, e.g. to show that a second pull fetches no blob.

    with docker_network("ollama-judge-parts-net") as net:
        with running_registry(tmp_path, net) as registry:
            model = write_judge_model(tmp_path / "model")
            registry.push(model, "judge:1", "ollama/ollama:0.34.1")
            registry.reference("judge:1")  # "ollama-judge-parts-...-registry:5000/library/judge:1"
            registry.connect("ollama-net")  # for a judge on another network too
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.engine import PROJECT_DIR, MissingPartError
from tests.e2e.judge_model import ModelFiles
from tests.e2e.ollama_server import judge_trust, running_ollama

REGISTRY_PORT = 5000
BLOBS_PORT = 5001
PREFIX = "ollama-judge-parts"
# Where each container keeps what it serves.
STORAGE = "/var/lib/registry"
CERTS = "/certs"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def registry_image() -> str:
    """The image with docker-registry and caddy, built from their Debian packages by
    images/build-registry-image.sh (about a second, once per package version)."""
    script = PROJECT_DIR / "images" / "build-registry-image.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MissingPartError(f"{script.name} failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


# --- certificates -------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path  # the CA certificate (PEM): what a client trusts
    cert: Path  # the server certificate, for every name in `hosts`
    key: Path


def make_certificates(
    directory: Path, hosts: list[str], addresses: tuple[str, ...] = ()
) -> Certificates:
    """A throwaway CA and a server certificate it signed for `hosts`, 127.0.0.1 and
    `addresses`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key, csr = directory / "registry.crt", directory / "registry.key", directory / "csr"
    ips = ("127.0.0.1", *addresses)
    names = ",".join([*(f"DNS:{host}" for host in hosts), *(f"IP:{ip}" for ip in ips)])
    extensions = directory / "server.ext"
    extensions.write_text(
        f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], capture_output=True, text=True, check=True)

    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN={PREFIX} test CA", "-keyout", str(ca_key), "-out", str(ca),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={hosts[0]}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    # The containers' servers run as root; the files only need to be readable.
    for path in (cert, key, ca):
        path.chmod(0o644)
    return Certificates(ca=ca, cert=cert, key=key)


# --- configuration ------------------------------------------------------------------


def registry_config(blobs_url: str | None, tls: bool) -> dict[str, Any]:
    """distribution's configuration: filesystem storage, a JSON log line per request,
    and blob requests redirected to `blobs_url` (where the file server answers); with
    None, blobs are answered directly, as by a stock registry."""
    http: dict[str, Any] = {"addr": f":{REGISTRY_PORT}"}
    if tls:
        http["tls"] = {"certificate": f"{CERTS}/registry.crt", "key": f"{CERTS}/registry.key"}
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "json", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": STORAGE}, "delete": {"enabled": True}},
        "http": http,
    }
    if blobs_url:
        redirect = {"name": "redirect", "options": {"baseurl": blobs_url}}
        config["middleware"] = {"storage": [redirect]}
    return config


def caddyfile(tls: bool) -> str:
    """The file server: the registry's storage, read-only, on the blob port."""
    site = f":{BLOBS_PORT}"
    tls_line = f"\ttls {CERTS}/registry.crt {CERTS}/registry.key\n" if tls else ""
    scheme = "https" if tls else "http"
    return (
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f"{scheme}://{site} {{\n{tls_line}\troot * {STORAGE}\n\tfile_server\n}}\n"
    )


# --- the running registry -----------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One request the registry answered, from its log."""

    method: str
    uri: str
    status: int
    user_agent: str = ""

    @property
    def is_blob(self) -> bool:
        return "/blobs/sha256:" in self.uri and "/uploads/" not in self.uri

    @property
    def digest(self) -> str | None:
        """The blob's digest (`sha256:...`), for a blob request."""
        return self.uri.rsplit("/blobs/", 1)[1] if self.is_blob else None


@dataclass
class Registry:
    host: str  # the registry's container name: its host name on its networks
    blobs_host: str
    network: str
    tls: bool
    certificates: Certificates | None
    host_port: int  # the registry's port, published on `published_on` for this host
    blobs_port: int  # the blob server's, likewise
    image: str
    published_on: str = "127.0.0.1"
    blobs_on: str = "127.0.0.1"  # where the blob server is published
    # Whether model references name the registry by its published address (on_gateway)
    # rather than by its container name.
    by_address: bool = False

    @property
    def address(self) -> str:
        """The registry as model references name it: `HOST:PORT`."""
        if self.by_address:
            return f"{self.published_on}:{self.host_port}"
        return self.named_address

    @property
    def named_address(self) -> str:
        """By container name: reachable only from the registry's networks."""
        return f"{self.host}:{REGISTRY_PORT}"

    @property
    def ca(self) -> Path | None:
        return self.certificates.ca if self.certificates else None

    @property
    def url(self) -> str:
        """The registry's API from this host."""
        return f"{'https' if self.tls else 'http'}://{self.published_on}:{self.host_port}"

    def reference(self, model: str, address: str | None = None) -> str:
        """`judge:1` as a reference Ollama pulls from here: `HOST:PORT/library/judge:1`."""
        return f"{address or self.address}/library/{model}"

    def pull_flags(self) -> list[str]:
        return [] if self.tls else ["--insecure"]

    def requests(self) -> list[Request]:
        """Every request answered so far, errors included, oldest first."""
        logs = docker("logs", self.host)
        found = []
        for line in (logs.stdout + logs.stderr).splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            # Answers with an error status (a 404, say) are logged under their own message.
            if entry.get("msg") in ("response completed", "response completed with error"):
                found.append(
                    Request(
                        entry["http.request.method"],
                        entry["http.request.uri"],
                        int(entry["http.response.status"]),
                        entry.get("http.request.useragent", ""),
                    )
                )
        return found

    def manifest(self, model: str) -> dict[str, Any]:
        """The manifest of `model` (e.g. "judge:1"), read from this host."""
        name, tag = model.split(":")
        request = urllib.request.Request(
            f"{self.url}/v2/library/{name}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(request, timeout=10, context=self._ssl_context()) as answer:
            return dict(json.loads(answer.read()))

    def digest(self, model: str) -> str:
        """The digest of `model`'s manifest as the registry names it (`sha256:<hex>`)."""
        name, tag = model.split(":")
        request = urllib.request.Request(
            f"{self.url}/v2/library/{name}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
            method="HEAD",
        )
        with urllib.request.urlopen(request, timeout=10, context=self._ssl_context()) as answer:
            return str(answer.headers["Docker-Content-Digest"])

    def blob_digests(self, model: str) -> set[str]:
        """The digests of the blobs `model` is made of: its config and its layers."""
        manifest = self.manifest(model)
        return {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}

    def push(self, model: ModelFiles, name: str, ollama_image: str) -> str:
        """Creates `name` (e.g. "judge:1") from `model` in a throwaway Ollama container on
        the registry's network and pushes it here with `ollama push`; returns the
        reference."""
        reference = self.reference(name)
        pusher = f"{self.host.removesuffix('-registry')}-pusher"
        with running_ollama(
            pusher,
            ollama_image,
            self.network,
            trust=judge_trust(self.ca) if self.ca else None,
            mounts=[f"{model.modelfile.parent}:/model:ro"],
        ) as server:
            server.exec("ollama", "create", reference, "-f", f"/model/{model.modelfile.name}")
            server.exec("ollama", "push", *self.pull_flags(), reference, timeout=900)
        return reference

    def connect(self, network: str) -> None:
        """Makes the registry reachable under the same names from `network` too, e.g.
        from a judge on the stack's network; undone when the containers go."""
        for name in (self.host, self.blobs_host):
            docker("network", "connect", network, name)

    def disconnect(self, network: str) -> None:
        for name in (self.host, self.blobs_host):
            docker("network", "disconnect", network, name, check=False)

    # Outages. The ports stay the same across a restart only where they were chosen
    # (on_gateway); Docker picks new ones for ports published without a number.

    def stop(self) -> None:
        """Both servers down, as a registry that is not there."""
        docker("stop", "--time", "1", self.host, self.blobs_host)

    def kill_blobs(self) -> None:
        """The blob server killed at once: transfers in flight are cut."""
        docker("kill", self.blobs_host)

    def start(self) -> None:
        """Both servers (back) up; returns once they answer."""
        docker("start", self.host, self.blobs_host)
        self.wait_until_serving()

    def wait_until_serving(self) -> None:
        context = self._ssl_context()
        _wait_for(f"{self.url}/v2/", context)
        scheme = "https" if self.tls else "http"
        _wait_for(f"{scheme}://{self.blobs_on}:{self.blobs_port}/", context)

    def _ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else None


def gateway(network: str) -> str:
    """The Docker host's own address on `network`: this host has it, and a container on
    any network reaches it through the host ("bridge", the default network, gives what
    Docker calls `host-gateway`)."""
    found = docker("network", "inspect", network, "--format", "{{json .IPAM.Config}}", check=False)
    configs = json.loads(found.stdout) if found.returncode == 0 else None
    if not configs:
        raise MissingPartError(
            f"the Docker engine has no network {network!r} with an address of the host, "
            "where the test registry is published"
        )
    config = configs[0]
    return str(config.get("Gateway") or ipaddress.ip_network(config["Subnet"])[1])


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _published_port(container: str, port: int) -> int:
    mapping = docker("port", container, f"{port}/tcp", check=False).stdout.splitlines()
    if not mapping:  # the container has stopped already
        logs = docker("logs", container, check=False)
        raise MissingPartError(f"{container} did not start:\n{(logs.stdout + logs.stderr)[-3000:]}")
    return int(mapping[0].rsplit(":", 1)[1])


def _wait_for(url: str, context: ssl.SSLContext | None, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context):
                return
        except urllib.error.HTTPError:
            return  # an answer, if not a 200 (the file server lists no directories)
        except (urllib.error.URLError, ConnectionError) as error:
            if time.monotonic() > deadline:
                raise MissingPartError(
                    f"{url} did not answer within {seconds}s: {error}"
                ) from error
            time.sleep(0.2)


@contextmanager
def docker_network(name: str) -> Iterator[str]:
    """A Docker network of that name for the duration (created here, removed after)."""
    docker("network", "create", name)
    try:
        yield name
    finally:
        docker("network", "rm", name, check=False)


@contextmanager
def running_registry(
    workdir: Path,
    network: str,
    tls: bool = True,
    redirect: bool = True,
    on_gateway: bool = False,
    prefix: str = PREFIX,
    extra_names: tuple[str, ...] = (),
) -> Iterator[Registry]:
    """The registry and its blob server on `network`, with their storage, certificates
    and configuration under `workdir`; both containers are removed afterwards. With
    `redirect=False` the registry answers blobs itself, as a stock one does (which
    Ollama's default pull cannot use). With `on_gateway=True` both are published on the
    Docker host's gateway address, which model references then use (see above).
    `extra_names`: more host names its certificate covers, for a name given to it
    elsewhere (in a cluster's DNS, say)."""
    image = registry_image()
    run_id = uuid.uuid4().hex[:6]
    host, blobs_host = f"{prefix}-{run_id}-registry", f"{prefix}-{run_id}-blobs"
    published_on = gateway("bridge") if on_gateway else "127.0.0.1"
    blobs_on = gateway(network) if on_gateway else "127.0.0.1"
    # On the gateways the ports are chosen here, so that they survive a restart.
    ports = (_free_port(published_on), _free_port(blobs_on)) if on_gateway else ("", "")
    addresses = (published_on, blobs_on) if on_gateway else ()
    certificates = (
        make_certificates(workdir / "certs", [host, blobs_host, *extra_names], addresses)
        if tls
        else None
    )
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    scheme = "https" if tls else "http"
    config = workdir / "config.yml"
    blobs_address = f"{blobs_on}:{ports[1]}" if on_gateway else f"{blobs_host}:{BLOBS_PORT}"
    blobs_url = f"{scheme}://{blobs_address}" if redirect else None
    config.write_text(yaml.safe_dump(registry_config(blobs_url, tls)))
    (workdir / "Caddyfile").write_text(caddyfile(tls))
    certs_mount = [f"--volume={certificates.cert.parent}:{CERTS}:ro"] if certificates else []

    registry_server = (
        [f"--volume={storage}:{STORAGE}", f"--volume={config}:/etc/registry.yml:ro"],
        ["/usr/bin/docker-registry", "serve", "/etc/registry.yml"],
    )
    blobs_server = (
        [f"--volume={storage}:{STORAGE}:ro", f"--volume={workdir}/Caddyfile:/etc/Caddyfile:ro"],
        ["/usr/bin/caddy", "run", "--config", "/etc/Caddyfile", "--adapter", "caddyfile"],
    )
    with ExitStack() as cleanup:
        for name, port, (address, published), (mounts, command) in (
            (host, REGISTRY_PORT, (published_on, ports[0]), registry_server),
            (blobs_host, BLOBS_PORT, (blobs_on, ports[1]), blobs_server),
        ):
            cleanup.callback(docker, "rm", "-f", name, check=False)
            docker(
                "run", "--detach", "--name", name, "--network", network,
                "--publish", f"{address}:{published}:{port}", *mounts, *certs_mount,
                image, *command,
            )  # fmt: skip
        registry = Registry(
            host=host,
            blobs_host=blobs_host,
            network=network,
            tls=tls,
            certificates=certificates,
            host_port=_published_port(host, REGISTRY_PORT),
            blobs_port=_published_port(blobs_host, BLOBS_PORT),
            image=image,
            published_on=published_on,
            blobs_on=blobs_on,
            by_address=on_gateway,
        )
        registry.wait_until_serving()
        yield registry
