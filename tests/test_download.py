"""The pretrained-weights download through torch.hub's real downloader, against a loopback HTTP server.

``tests/test_weights.py`` replaces ``weights._download``; here nothing in the download path is replaced: only the
weights' address points at a server on 127.0.0.1 (nothing leaves the machine). The file name carries the first
hex digits of the SHA-256, as torchvision's do, and torch.hub checks them. Checked: the right hash is cached
(atomically, under the URL's name), a wrong hash and an interrupted transfer (the connection closed or reset
half-way) are refused with ``WeightsError("download")`` and leave nothing behind: no cached file, no
``.partial`` temporary, so the next attempt starts clean and succeeds.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from resnet_viz import settings
from resnet_viz.models import weights
from resnet_viz.models.weights import WeightsError

ARCH = "resnet18"


def _state_dict_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save({"marker": torch.arange(50_000, dtype=torch.float32)}, buffer)  # 200 KB: several read chunks
    return buffer.getvalue()


PAYLOAD = _state_dict_bytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()
WRONG = ("1" if SHA[0] == "0" else "0") + SHA[1:8]  # differs from the real digest in its first digit


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/ok/NAME`` sends the payload; ``/cut/NAME`` announces all of it, sends half and closes the connection;
    ``/reset/NAME`` sends half and resets the connection (RST); ``/missing/NAME`` is a 404."""

    protocol_version = "HTTP/1.1"
    payload = PAYLOAD
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        mode = self.path.split("/")[1]
        if mode == "missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        if mode == "ok":
            self.wfile.write(self.payload)
            return
        self.wfile.write(self.payload[: len(self.payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        if mode == "reset":  # SO_LINGER 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache, online (whatever the environment says), no proxy between us and 127.0.0.1."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv(settings.OFFLINE_ENV, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    _Handler.requests.clear()
    return tmp_path / "hub" / "checkpoints"


def _serve_at(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The weights of ``ARCH`` are at ``url`` (torchvision's own address is the only thing replaced)."""
    monkeypatch.setattr(weights, "pretrained_weights", lambda arch, **_: SimpleNamespace(url=url))


def _left_behind(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_right_hash_is_downloaded_once_and_cached_under_its_name(server, hub, monkeypatch):
    name = f"{ARCH}-{SHA[:8]}.pth"
    _serve_at(monkeypatch, f"{server}/ok/{name}")
    path = weights.ensure_pretrained(ARCH, progress=False)
    assert path == hub / name and path.read_bytes() == PAYLOAD
    assert _left_behind(hub) == [name]  # no .partial temporary
    assert weights.ensure_pretrained(ARCH, progress=False) == path  # cached: not fetched again
    assert _Handler.requests == [f"/ok/{name}"]
    assert weights.is_cached(ARCH)


@pytest.mark.parametrize("mode", ["ok", "cut", "reset"])
def test_a_wrong_hash_or_an_interrupted_transfer_caches_nothing(server, hub, monkeypatch, mode):
    # "ok" with a wrong hash: the whole file arrives and is refused. "cut": the server closes half-way (urllib
    # reads that as a short end of file, so only the hash notices). "reset": the connection breaks half-way.
    name = f"{ARCH}-{WRONG if mode == 'ok' else SHA[:8]}.pth"
    _serve_at(monkeypatch, f"{server}/{mode}/{name}")
    with pytest.raises(WeightsError) as err:
        weights.ensure_pretrained(ARCH, progress=False)
    assert err.value.code == "download"
    expected = "Connection reset" if mode == "reset" else "invalid hash value"
    assert expected in err.value.params["error"], err.value.params["error"]
    assert _left_behind(hub) == []  # neither the file nor its .partial temporary
    assert not weights.is_cached(ARCH)
    # The next try, with the whole file, starts clean and succeeds.
    good = f"{ARCH}-{SHA[:8]}.pth"
    _serve_at(monkeypatch, f"{server}/ok/{good}")
    assert weights.ensure_pretrained(ARCH, progress=False).read_bytes() == PAYLOAD


def test_a_missing_file_is_a_download_error(server, hub, monkeypatch):
    _serve_at(monkeypatch, f"{server}/missing/{ARCH}-{SHA[:8]}.pth")
    with pytest.raises(WeightsError) as err:
        weights.ensure_pretrained(ARCH, progress=False)
    assert err.value.code == "download" and "404" in err.value.params["error"]
    assert _left_behind(hub) == []


def test_a_downloaded_file_loads_as_the_network(server, hub, monkeypatch):
    """The whole path a page takes: download, hash check, then ``torch.load(weights_only=True)``."""
    from resnet_viz.models import build_model

    source = build_model(ARCH)
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    data = buffer.getvalue()
    name = f"{ARCH}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setattr(_Handler, "payload", data)
    _serve_at(monkeypatch, f"{server}/ok/{name}")
    model = weights.load_pretrained(ARCH, progress=False)
    assert torch.equal(model.fc.weight, source.fc.weight) and not model.training
