"""openhms's own /mcp over streamable HTTP, with the official MCP Python SDK."""

import json
import os
import subprocess
import time

import pytest
from mcp.shared.exceptions import MCPError

from conftest import (
    ALLOWED_HOST,
    BASE,
    DATA_DIR,
    HMS_BIN,
    MODES,
    management_token,
    openhms_client,
    raw_post,
    rest,
    snapshot_tools,
    text_of,
    tool_as_json,
)

pytestmark = pytest.mark.anyio

ROOM_CODE_TOOLS = {
    # name: (inputs, required, readOnlyHint, destructiveHint, idempotentHint)
    "hms-create-room-codes": (["room_id"], ["room_id"], False, False, True),
    "hms-get-room-codes": (["room_id", "role", "enabled", "limit", "start"], ["room_id"], True, False, True),
    "hms-update-room-code": (["code", "body"], ["code", "body"], False, False, True),
}


@pytest.mark.parametrize("mode", MODES)
async def test_lists_every_tool_as_the_snapshot_says(mode):
    async with openhms_client(mode) as client:
        listed = (await client.list_tools()).tools
    expected = snapshot_tools()
    assert [tool.name for tool in listed] == [tool["name"] for tool in expected]
    for tool, want in zip(listed, expected):
        got = tool_as_json(tool)
        assert got["description"] == want["description"], tool.name
        assert got["inputSchema"] == want["inputSchema"], tool.name
        assert got["annotations"] == want["annotations"], tool.name


async def test_the_three_room_code_tools_have_their_inputs_and_hints():
    async with openhms_client() as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    for name, (inputs, required, read_only, destructive, idempotent) in ROOM_CODE_TOOLS.items():
        tool = listed[name]
        assert list(tool.input_schema["properties"]) == inputs, name
        assert tool.input_schema["required"] == required, name
        hints = tool.annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint) == (
            read_only,
            destructive,
            idempotent,
        ), name
    assert listed["hms-update-room-code"].input_schema["properties"]["body"]["type"] == "object"


@pytest.mark.parametrize("mode", MODES)
async def test_room_codes_end_to_end(mode):
    name = f"mcp-http-codes-{mode}"
    async with openhms_client(mode) as client:
        created = await client.call_tool("hms-create-room", {"body": {"name": name, "description": "from MCP"}})
        assert created.is_error is False
        room = created.structured_content
        assert (room["name"], room["description"], room["enabled"]) == (name, "from MCP", True)
        assert json.loads(text_of(created)) == room

        codes = await client.call_tool("hms-create-room-codes", {"room_id": room["id"]})
        assert codes.is_error is False
        data = codes.structured_content["data"]
        assert sorted(code["role"] for code in data) == ["guest", "host"]
        assert all(code["room_id"] == room["id"] and code["enabled"] is True for code in data)

        # Idempotent, as its hint says: the same codes again.
        again = await client.call_tool("hms-create-room-codes", {"room_id": room["id"]})
        assert again.structured_content["data"] == data

        listed = await client.call_tool("hms-get-room-codes", {"room_id": room["id"]})
        assert listed.is_error is False
        assert listed.structured_content["data"] == data

        host = next(code for code in data if code["role"] == "host")
        updated = await client.call_tool(
            "hms-update-room-code", {"code": host["code"], "body": {"enabled": False}}
        )
        assert updated.is_error is False
        assert (updated.structured_content["code"], updated.structured_content["enabled"]) == (host["code"], False)

        disabled = await client.call_tool("hms-get-room-codes", {"room_id": room["id"], "enabled": False})
        assert [code["code"] for code in disabled.structured_content["data"]] == [host["code"]]

        guest = next(code for code in data if code["role"] == "guest")
        exchanged = await client.call_tool(
            "hms-exchange-room-code", {"body": {"code": guest["code"], "user_id": "alice"}}
        )
        assert exchanged.is_error is False
        assert isinstance(exchanged.structured_content["token"], str)
        refused = await client.call_tool("hms-exchange-room-code", {"body": {"code": host["code"]}})
        assert refused.is_error is True

    # The tools act on the same data as REST.
    status, page = rest("GET", f"/v2/room-codes/room/{room['id']}?enabled=false")
    assert (status, [code["code"] for code in page["data"]]) == (200, [host["code"]])


async def test_rooms_list_get_and_disable():
    async with openhms_client() as client:
        room = (await client.call_tool("hms-create-room", {"body": {"name": "mcp-http-rooms"}})).structured_content
        listed = await client.call_tool("hms-list-rooms", {"name": "mcp-http-rooms"})
        assert [item["id"] for item in listed.structured_content["data"]] == [room["id"]]
        got = await client.call_tool("hms-get-room", {"room_id": room["id"]})
        assert got.structured_content == room
        disabled = await client.call_tool("hms-disable-room", {"room_id": room["id"]})
        assert (disabled.structured_content["id"], disabled.structured_content["enabled"]) == (room["id"], False)
        again = await client.call_tool("hms-get-room", {"room_id": room["id"]})
        assert again.structured_content["enabled"] is False
        enabled = await client.call_tool("hms-enable-room", {"room_id": room["id"]})
        assert enabled.structured_content["enabled"] is True


async def test_api_errors_are_tool_errors_with_the_envelope_message():
    missing = "0123456789abcdef01234567"
    status, envelope = rest("GET", f"/v2/rooms/{missing}")
    assert (status, envelope["message"]) == (404, "Room not found")
    async with openhms_client() as client:
        result = await client.call_tool("hms-get-room", {"room_id": missing})
    assert result.is_error is True
    assert text_of(result) == "Room not found (HTTP 404)"
    assert result.structured_content == {"status": 404, **envelope}


async def test_bad_input_is_a_tool_error_and_unknown_tools_a_protocol_error():
    async with openhms_client() as client:
        result = await client.call_tool("hms-get-room", {"id": "abc"})
        assert result.is_error is True
        assert text_of(result) == "hms-get-room takes no argument id; its arguments are: room_id"

        invalid = await client.call_tool("hms-create-room", {"body": {"name": 5}})
        assert invalid.is_error is True
        assert text_of(invalid).startswith("Invalid body param (HTTP 400)")

        with pytest.raises(MCPError) as raised:
            await client.call_tool("hms-no-such-tool", {})
        assert raised.value.error.message == "unknown tool: hms-no-such-tool"


async def test_simulated_session_through_tools():
    async with openhms_client() as client:
        room = (await client.call_tool("hms-create-room", {"body": {"name": "mcp-http-live"}})).structured_content
        peer = await client.call_tool(
            "hms-simulate-peer-join", {"room_id": room["id"], "body": {"role": "host", "name": "Ann"}}
        )
        assert peer.is_error is False
        assert (peer.structured_content["name"], peer.structured_content["role"]) == ("Ann", "host")
        active = await client.call_tool("hms-get-active-room", {"room_id": room["id"]})
        assert active.is_error is False
        peers = await client.call_tool("hms-list-active-room-peers", {"room_id": room["id"]})
        assert list(peers.structured_content["peers"]) == [peer.structured_content["id"]]
        ended = await client.call_tool("hms-end-active-room", {"room_id": room["id"], "body": {"reason": "done"}})
        assert ended.is_error is False
        gone = await client.call_tool("hms-get-active-room", {"room_id": room["id"]})
        assert gone.is_error is True
        assert text_of(gone).startswith("Room is not active (HTTP 404)")


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
}


def test_refuses_requests_without_a_valid_management_token():
    status, headers, body = raw_post(BASE + "/mcp", INITIALIZE, {})
    assert status == 401
    assert headers.get("WWW-Authenticate") == "Bearer"
    assert json.loads(body) == {
        "code": 401,
        "message": "Authentication error",
        "details": ["send a management token as `Authorization: Bearer <token>`"],
    }
    forged = management_token(secret="not-the-secret-of-this-workspace-000000")
    status, _, body = raw_post(BASE + "/mcp", INITIALIZE, {"Authorization": f"Bearer {forged}"})
    assert status == 401
    assert json.loads(body)["message"].startswith("Token validation error")


def test_a_host_outside_the_allowed_hosts_is_refused():
    headers = {"Authorization": f"Bearer {management_token()}", "Host": "evil.example"}
    status, _, body = raw_post(BASE + "/mcp", INITIALIZE, headers)
    assert (status, body) == (403, "Forbidden: Host header is not allowed")


@pytest.mark.parametrize("mode", MODES)
async def test_a_listed_host_works(mode):
    port = BASE.rsplit(":", 1)[1]
    for host in (ALLOWED_HOST, f"{ALLOWED_HOST}:{port}"):
        async with openhms_client(mode, extra={"Host": host}) as client:
            room = await client.call_tool("hms-create-room", {"body": {"name": "mcp-http-host"}})
            assert room.is_error is False, text_of(room)
            assert room.structured_content["name"] == "mcp-http-host"


def admin_env():
    """A bare environment for admin commands, with the server's database when it is not the
    embedded one (the conformance runner sets HMS_DATABASE_URL for a PostgreSQL run)."""
    env = {"PATH": "/usr/bin:/bin"}
    if os.environ.get("HMS_DATABASE_URL"):
        env["HMS_DATABASE_URL"] = os.environ["HMS_DATABASE_URL"]
    return env


async def test_tools_act_in_the_workspace_of_the_token():
    access_key, secret = "6c0000000000000000000001", "second-workspace-secret-0123456789abcdef"
    created = subprocess.run(
        [HMS_BIN, "workspace", "create", "mcp-second", "--access-key", access_key, "--secret", secret,
         "--data-dir", DATA_DIR],
        capture_output=True,
        text=True,
        env=admin_env(),
    )
    assert created.returncode == 0, created.stderr
    other = management_token(access_key, secret)
    deadline = time.time() + 10
    while rest("GET", "/v2/rooms", token=other)[0] != 200:
        assert time.time() < deadline, "the server never accepted the second workspace's token"
        time.sleep(0.1)

    async with openhms_client() as first, openhms_client(token=other) as second:
        mine = (await first.call_tool("hms-create-room", {"body": {"name": "mcp-only-mine"}})).structured_content
        seen = await second.call_tool("hms-list-rooms", {"name": "mcp-only-mine"})
        assert seen.structured_content["data"] == []
        foreign = await second.call_tool("hms-get-room", {"room_id": mine["id"]})
        assert (foreign.is_error, text_of(foreign)) == (True, "Room not found (HTTP 404)")
