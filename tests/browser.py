"""Pytest plugin: Debian's headless Chromium driving Haven's browser code over loopback.

Register with ``pytest_plugins = ["tests.browser"]``. Fixtures:

- ``static_server``: a loopback HTTP server for ``static/``, ``tests/data/`` and a
  scratch folder, sending the production Content-Security-Policy on every response
  (CSP, and WORKER_CSP on the hashing worker's script).
- ``chromium``: one browser for the session. Fails under CI=true when
  /usr/bin/chromium or the vendored libraries are missing; skips otherwise.
- ``harness``: a fresh page on the hashing harness, whose JavaScript API is
  ``window.harness`` (see HARNESS_JS).
- ``video_file``: builds a test video (tests/videos.py) where the browser can fetch it.
  Fails under CI=true when ffmpeg is missing; skips otherwise.

Playwright never downloads a browser here: it drives /usr/bin/chromium only.
The plain helpers (StaticServer, launch_chromium, open_harness) are reused by bench/.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests import videos

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
VENDORED_MD5 = REPO / "static" / "vendor" / "hash-wasm" / "md5.umd.min.js"
VENDORED_DEMUXER = REPO / "static" / "vendor" / "mediabunny" / "mediabunny.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The policy the product pages are served with (no inline script, no eval, no other origin).
CSP = "default-src 'self'; connect-src 'self'"
# A worker obeys the policy sent with its own script, not its page's. Only the hashing worker
# compiles WebAssembly (hash-wasm's MD5), so only its response adds 'wasm-unsafe-eval'.
WORKER_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'"
HASHING_WORKER = "/static/takedown/hashing/worker.js"

CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".css": "text/css",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".mp4": "video/mp4",
}

HARNESS_HTML = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hashing harness</title>
<script type="module" src="/harness/harness.js"></script></head>
<body><input type="file" id="file" multiple></body></html>
"""

# Test-only glue between Playwright and the product modules; not a product page.
HARNESS_JS = b"""
import { hashFile, mediaKind } from "/static/takedown/hashing/hasher.js";
import { pdqFromRGBA, hammingDistance } from "/static/takedown/hashing/pdq.js";
import { decodeImage, pdqFromBitmap } from "/static/takedown/hashing/image.js";
import { vpdqOfVideo } from "/static/takedown/hashing/video.js";

async function run(file, options = {}) {
  const progress = [];
  const started = performance.now();
  try {
    const result = await hashFile(file, { onProgress: (p) => progress.push(p) });
    return { result, progress, ms: performance.now() - started };
  } catch (error) {
    return { error: { code: error.code, message: error.message }, progress };
  }
}

async function fetchFile(url, name, type) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return new File([await response.blob()], name, { type });
}

window.harness = {
  mediaKind,
  hammingDistance,
  hashUrl: async (url, name, type) => run(await fetchFile(url, name, type)),
  hashInput: (index) => run(document.getElementById("file").files[index]),
  pdqOfRawRGBA: async (url, width, height) => {
    const rgba = new Uint8ClampedArray(await (await fetch(url)).arrayBuffer());
    return pdqFromRGBA(rgba, width, height);
  },
  // hashFile(), aborted at the first progress of `stage` with done > 0. Progress that
  // arrives after the abort is counted in window.progressAfterAbort.
  hashUrlAndAbort: async (url, name, type, stage) => {
    const file = await fetchFile(url, name, type);
    const controller = new AbortController();
    const progress = [];
    window.progressAfterAbort = 0;
    try {
      const result = await hashFile(file, {
        signal: controller.signal,
        onProgress: (p) => {
          if (controller.signal.aborted) window.progressAfterAbort++;
          progress.push(p);
          if (p.stage === stage && p.done > 0) controller.abort();
        },
      });
      return { result, progress };
    } catch (error) {
      return { error: { code: error.code, message: error.message }, progress };
    }
  },
  // video.js on the page itself (no worker), with a chosen way of reading frames' pixels.
  vpdqOnPage: async (url, name, type, pixels) =>
    vpdqOfVideo(await fetchFile(url, name, type), { pixels }),
  timePdq: async (url, name, type) => {
    const file = await fetchFile(url, name, type);
    const t0 = performance.now();
    const bitmap = await decodeImage(file);
    const t1 = performance.now();
    const result = pdqFromBitmap(bitmap);
    const t2 = performance.now();
    return { decodeMs: t1 - t0, hashMs: t2 - t1, ...result };
  },
};
document.body.dataset.ready = "yes";
"""


class _Handler(BaseHTTPRequestHandler):
    """GET/HEAD of files under the server's mounts; anything else is a 404."""

    server: StaticServer

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def _serve(self, *, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path in self.server.pages:
            content = self.server.pages[path]
            self._headers(len(content), CONTENT_TYPES[Path(path).suffix])
            if body:
                self.wfile.write(content)
            return
        file = self.server.resolve(path)
        if file is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self._headers(
            file.stat().st_size, CONTENT_TYPES.get(file.suffix, "application/octet-stream")
        )
        if body:
            with file.open("rb") as stream:
                shutil.copyfileobj(stream, self.wfile)

    def _headers(self, length: int, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        worker = self.path.split("?", 1)[0] == HASHING_WORKER
        self.send_header(
            "Content-Security-Policy", self.server.worker_csp if worker else self.server.csp
        )
        self.send_header("Cache-Control", "no-store")
        self.end_headers()


class StaticServer(ThreadingHTTPServer):
    """Loopback server: URL prefixes mapped to folders, plus in-memory pages."""

    daemon_threads = True

    def __init__(
        self, mounts: dict[str, Path], *, csp: str = CSP, worker_csp: str = WORKER_CSP
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mounts = mounts
        self.csp = csp
        self.worker_csp = worker_csp
        self.pages = {"/harness/index.html": HARNESS_HTML, "/harness/harness.js": HARNESS_JS}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.origin + path

    def resolve(self, path: str) -> Path | None:
        """The file a URL path names inside a mount, or None (never outside one)."""
        for prefix, folder in self.mounts.items():
            if path.startswith(prefix):
                candidate = (folder / path[len(prefix) :]).resolve()
                if candidate.is_relative_to(folder.resolve()) and candidate.is_file():
                    return candidate
        return None

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with nothing that calls out to the network."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def open_harness(browser: Browser, server: StaticServer, requests: list[str] | None = None) -> Page:
    """A new page on the harness, ready once ``window.harness`` exists.

    With ``requests``, every request of the page and its workers is appended as "METHOD URL".
    """
    page = browser.new_page()
    if requests is not None:
        page.context.on(
            "request", lambda request: requests.append(f"{request.method} {request.url}")
        )
    page.goto(server.url("/harness/index.html"))
    page.wait_for_selector("body[data-ready=yes]", state="attached", timeout=10_000)
    return page


def _missing_prerequisite() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install chromium"
    for vendored in (VENDORED_MD5, VENDORED_DEMUXER):
        if not vendored.exists():
            return f"{vendored.relative_to(REPO)} is missing: run `make vendor`"
    return None


@pytest.fixture(scope="session")
def static_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    """Loopback server for static/, tests/data/ and a session scratch folder (/scratch/)."""
    scratch = tmp_path_factory.mktemp("browser-scratch")
    mounts = {
        "/static/": REPO / "static",
        "/testdata/": REPO / "tests" / "data",
        "/scratch/": scratch,
    }
    with StaticServer(mounts) as server:
        yield server


@pytest.fixture(scope="session")
def scratch_dir(static_server: StaticServer) -> Path:
    """Folder whose files the browser can fetch at /scratch/<name>."""
    return static_server.mounts["/scratch/"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium for the session: required under CI=true, else skipped if absent."""
    missing = _missing_prerequisite()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run: {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def harness(chromium: Browser, static_server: StaticServer) -> Iterator[Page]:
    """A fresh harness page.

    Fails the test on an uncaught page error, and on any request other than a GET
    to the loopback server: hashing must never send a file's bytes anywhere.
    """
    requests: list[str] = []
    page = open_harness(chromium, static_server, requests)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    stray = [r for r in requests if not r.startswith(f"GET {static_server.origin}/")]
    assert not stray, f"requests other than GETs to the page's own origin: {stray}"


@pytest.fixture(scope="session")
def video_file(scratch_dir: Path) -> Callable[[str], Path]:
    """Builds a named test video (tests/videos.py) in the scratch folder, once a session.

    The browser fetches it at /scratch/videos/<file name>. Without ffmpeg: fails under
    CI=true, skips otherwise.
    """
    if not videos.ffmpeg_available():
        message = "ffmpeg is missing (apt-get install ffmpeg): the test videos are made with it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = scratch_dir / "videos"

    def make(name: str) -> Path:
        return videos.make_video(name, folder)

    return make
