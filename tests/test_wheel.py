"""The built wheel works when installed (issue 8 §5).

Rule checked: every data file the code reads ships in the wheel (e.g. case/vocabulary.yaml,
the knowledge base, templates, migrations). The test builds the wheel offline, installs it with
no dependencies into a fresh virtualenv whose only other path is the dev environment's
site-packages (for the third-party dependencies; the source tree is not on it), and runs
`rplcare assess` on an example and `rplcare serve` up to /healthz from outside the checkout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("rplcare-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=tmp)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # third-party dependencies from the dev environment; its own .pth files (the editable
    # install of this checkout) are not processed from a plain path entry
    (Path(site) / "dev-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst = subprocess.run(
        [
            str(py),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        cwd=tmp,
    )
    assert inst.returncode == 0, inst.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert "rplcare/case/vocabulary.yaml" in names
    assert "rplcare/py.typed" in names
    return venv


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["RPLCARE_DATABASE_URL"] = f"sqlite:///{tmp / 'wheel.db'}"
    return env


def test_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path):
    proc = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import rplcare; print(rplcare.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert str(ROOT / "src") not in out and str(installed) in out


def test_installed_rplcare_assess_runs_an_example(installed: Path, tmp_path: Path):
    r = subprocess.run(
        [
            str(installed / "bin" / "rplcare"),
            "assess",
            str(ROOT / "examples" / "bleeding-early-pregnancy.yaml"),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["format"] == "rplcare.assessment/1"
    assert d["knowledge_base"]["content_hash"]
    assert "Traceback" not in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_installed_rplcare_serve_answers_healthz(installed: Path, tmp_path: Path):
    port = _free_port()
    proc = subprocess.Popen(
        [str(installed / "bin" / "rplcare"), "serve", "--port", str(port), "--no-examples"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = json.loads(r.read())
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[1]
        assert body is not None, "no answer from /healthz"
        assert body.get("status") == "ok" or body.get("ok") is True, body
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
