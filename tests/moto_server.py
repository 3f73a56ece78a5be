"""moto's server (a real HTTP EC2 API on 127.0.0.1) for the tests, and the AWS environment
they run in.

`moto_server` is a session fixture: one server on a free port, stopped at the end. A missing
moto, or a server that does not answer, fails the tests; it never skips them.
`recording(server)` lists the API operations the server received meanwhile, whoever made
them (moto's own request recorder), which lets a test watch a command run as a subprocess.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

READY_TIMEOUT = 60.0  # seconds; the first start imports all of moto, slow on a busy machine

#: Credentials moto accepts (any would do). Set in the environment, so that boto3 (the
#: standard chain) and Terraform's provider (a child process) both find them there.
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata probe on a developer machine
    "CHECKPOINT_DISABLE": "1",  # Terraform's version check would try the network
}
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
         "AWS_ENDPOINT_URL_EC2")


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Any  # the server's stderr (a request log line per call): a file, as a pipe nobody
    # reads would fill up and stall the server
    recording_file: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(module: str = "moto.server") -> MotoServer:
    """Start `python -m <module> -H 127.0.0.1 -p PORT` and wait until it answers."""
    if importlib.util.find_spec(module.split(".")[0]) is None or \
            importlib.util.find_spec(module) is None:
        raise AssertionError(f"{module} is not importable: the end-to-end tests need moto's "
                             "server (pip install 'moto[server]', part of the dev extra)")
    port = _free_port()
    log = tempfile.TemporaryFile()
    # The recorder is off until a test starts it; its file goes to tmp, not the working dir.
    recording_file = Path(tempfile.gettempdir()) / f"sxcloud-moto-recording-{port}.jsonl"
    env = {**os.environ, "MOTO_RECORDER_FILEPATH": str(recording_file)}
    process = subprocess.Popen([sys.executable, "-m", module, "-H", "127.0.0.1", "-p",
                                str(port)], stdout=subprocess.DEVNULL, stderr=log, env=env)
    server = MotoServer(f"http://127.0.0.1:{port}", process, log, recording_file)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")
            stop(server)
            raise AssertionError(f"moto's server exited with {process.returncode}:\n{err[-2000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}/moto-api/", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    stop(server)
    raise AssertionError(f"moto's server did not answer on {server.url} within "
                         f"{READY_TIMEOUT:.0f} s")


def _moto_api(server: MotoServer, action: str) -> str:
    request = urllib.request.Request(f"{server.url}/moto-api/recorder/{action}",
                                     method="GET" if action.startswith("download") else "POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


@contextlib.contextmanager
def recording(server: MotoServer) -> Iterator[list[str]]:
    """The names of the API operations the server receives inside the `with` block."""
    operations: list[str] = []
    _moto_api(server, "reset-recording")
    _moto_api(server, "start-recording")
    try:
        yield operations
    finally:
        _moto_api(server, "stop-recording")
        for line in _moto_api(server, "download-recording").splitlines():
            operations.append(_operation(json.loads(line)))


def _operation(entry: dict[str, Any]) -> str:
    """The Action of an EC2 query-protocol request (form body, or query string)."""
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode()
    fields = urllib.parse.parse_qs(body) or urllib.parse.parse_qs(
        urllib.parse.urlparse(entry["url"]).query)
    return fields.get("Action", ["?"])[0]


def stop(server: MotoServer) -> None:
    """Stop the server this module started (by its own process handle)."""
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.log.close()
    server.recording_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def aws_environment() -> Iterator[None]:
    """Test credentials in the environment, and no profile or endpoint from the user's own."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENVIRONMENT.items():
            mp.setenv(key, value)
        for key in UNSET:
            mp.delenv(key, raising=False)
        yield


@pytest.fixture(scope="session")
def moto_server(aws_environment: None) -> Iterator[MotoServer]:
    server = start()
    try:
        yield server
    finally:
        stop(server)

