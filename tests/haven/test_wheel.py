"""The built wheel is all a deployment needs: installed alone, outside the checkout, it migrates
and serves every kind of page Haven has."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
# Built by `make vendor translations` before the suite; the wheel must carry them.
BUILT = ["static/vendor/hash-wasm/md5.umd.min.js", "translations/es/LC_MESSAGES/messages.mo"]


def _uv() -> str:
    uv = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        require("uv", "run `make test`, which bootstraps uv into .tools/")
    return uv


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the locked run-time dependencies and the wheel, nothing else."""
    for built in BUILT:
        if not (ROOT / built).exists():
            pytest.fail(f"{built} is missing: run `make vendor translations` first")
    uv = _uv()
    work = tmp_path_factory.mktemp("wheel")
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    environment.pop("VIRTUAL_ENV", None)
    environment.pop("UV_PROJECT_ENVIRONMENT", None)

    def run(*command: str) -> None:
        subprocess.run(command, cwd=ROOT, env=environment, check=True, capture_output=True)

    run(uv, "build", "--wheel", "--out-dir", str(work / "dist"))
    run(uv, "export", "--locked", "--no-dev", "--no-emit-project", "--quiet",
        "--output-file", str(work / "requirements.txt"))  # fmt: skip
    venv = work / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = str(venv / "bin" / "python")
    run(uv, "pip", "install", "--quiet", "--python", python, "--require-hashes",
        "-r", str(work / "requirements.txt"))  # fmt: skip
    (wheel,) = (work / "dist").glob("haven-*.whl")
    run(uv, "pip", "install", "--quiet", "--python", python, "--no-deps", str(wheel))
    return work


def test_the_wheel_carries_every_file_haven_reads_at_run_time(installed: Path) -> None:
    (wheel,) = (installed / "dist").glob("haven-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "haven-0.1.0.data/data/share/haven/"
    expected = [
        data + "templates/takedown/flow.html",
        data + "templates/sms/alert.txt",
        data + "static/takedown/flow.js",
        data + "migrations/env.py",
        "geo/data/us-same-areas.geojson.gz",
        *(data + built for built in BUILT),
    ]
    assert [name for name in expected if name not in names] == []
    assert not [name for name in names if name.startswith("tests/")]


def test_an_installed_wheel_migrates_and_serves_outside_the_checkout(installed: Path) -> None:
    site = installed / "site"
    site.mkdir()
    bin_dir = installed / "venv" / "bin"
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HAVEN_", "TWILIO_", "VIRTUAL_ENV", "PYTHON"))
    }
    subprocess.run([str(bin_dir / "haven"), "db", "upgrade"], cwd=site, env=environment, check=True)
    assert (site / "instance" / "haven.db").exists()
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "haven"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=site,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _ = _get(f"{base}/healthz")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    _, errors = server.communicate(timeout=5)
                    pytest.fail(f"haven serve did not start: {errors.decode()[-2000:]}")
                time.sleep(0.2)
        assert status == 200
        status, page = _get(f"{base}/takedown/?lang=es")
        assert status == 200
        assert 'lang="es"' in page
        status, script = _get(f"{base}/static/vendor/hash-wasm/md5.umd.min.js")
        assert status == 200
        assert "hash-wasm" in script or len(script) > 1000
        status, _ = _get(f"{base}/alerts")
        assert status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
