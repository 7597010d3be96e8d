"""Fixtures for the MCP conformance tests: a live `hms serve --simulate-peers` (started by
run.sh, described by environment variables) and MCP clients from the official SDK."""

import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

HERE = Path(__file__).resolve().parent
SNAPSHOT = HERE.parent.parent / "crates" / "hms-mcp" / "tests" / "snapshots" / "tools.json"

# What run.sh exports.
BASE = os.environ["HMS_TEST_BASE"]  # http://127.0.0.1:PORT
HMS_BIN = os.environ["HMS_BIN"]
DATA_DIR = os.environ["HMS_TEST_DATA_DIR"]
ACCESS_KEY = os.environ["HMS_ACCESS_KEY"]
SECRET = os.environ["HMS_SECRET"]
ALLOWED_HOST = os.environ["HMS_TEST_ALLOWED_HOST"]

# Both ways the SDK negotiates: the 2026-07-28 protocol (server/discover, no session) and the
# initialize handshake of earlier versions.
MODES = ["auto", "legacy"]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def management_token(access_key: str = ACCESS_KEY, secret: str = SECRET, lifetime: int = 3600) -> str:
    """A management token as the 100ms docs mint one: HS256 with the app secret."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "access_key": access_key,
        "type": "management",
        "version": 2,
        "iat": now - 10,
        "nbf": now - 10,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def rest(method: str, path: str, body=None, token: str | None = None):
    """A plain REST call to the live server: (status, parsed JSON or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token or management_token()}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as error:
        text = error.read()
        return error.code, (json.loads(text) if text else None)


def raw_post(url: str, payload: dict, headers: dict[str, str]):
    """POSTs one JSON-RPC message with these headers: (status, headers (case-insensitive), body text)."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def http_client(url: str, headers: dict[str, str], mode: str = "auto") -> Client:
    """An SDK client over streamable HTTP that sends `headers` on every request."""
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0))
    return Client(streamable_http_client(url, http_client=http), mode=mode)


def openhms_client(mode: str = "auto", token: str | None = None, extra: dict[str, str] | None = None) -> Client:
    """An SDK client of the live server's /mcp, with a management token as Bearer."""
    headers = {"Authorization": f"Bearer {token or management_token()}"}
    headers.update(extra or {})
    return http_client(BASE + "/mcp", headers, mode)


def stdio_client(*flags: str, mode: str = "auto", env: dict[str, str] | None = None) -> Client:
    """An SDK client of `hms mcp` over stdio, calling the live server's REST API."""
    variables = {"HMS_ACCESS_KEY": ACCESS_KEY, "HMS_SECRET": SECRET} if env is None else env
    params = StdioServerParameters(
        command=HMS_BIN,
        args=["mcp", "--base-url", BASE + "/v2", *flags],
        env=variables,
    )
    return Client(params, mode=mode)


@contextlib.contextmanager
def hms_mcp_http(*flags: str, env: dict[str, str]):
    """Runs `hms mcp --http` on a free loopback port; yields its /mcp URL."""
    variables = {key: value for key, value in os.environ.items() if not key.startswith("HMS_")}
    variables.update(env)
    process = subprocess.Popen(
        [HMS_BIN, "mcp", "--http", "--listen", "127.0.0.1:0", "--base-url", BASE + "/v2", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=variables,
    )
    try:
        line = process.stdout.readline()
        prefix = "hms mcp listening on "
        assert line.startswith(prefix), f"unexpected first line {line!r}; stderr: {process.stderr.read()}"
        yield line[len(prefix) :].split(" ")[0]
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def snapshot_tools() -> list[dict]:
    """The committed tool list (names, descriptions, input schemas, annotations)."""
    return json.loads(SNAPSHOT.read_text())


def tool_as_json(tool) -> dict:
    """A listed tool as it travelled on the wire."""
    return tool.model_dump(by_alias=True, exclude_none=True, mode="json")


def text_of(result) -> str:
    assert len(result.content) == 1, result
    return result.content[0].text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
