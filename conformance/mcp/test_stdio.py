"""`hms mcp` over stdio (as desktop agents run it) and over HTTP, calling the live server's
REST API, with the official MCP Python SDK."""

import pytest
from mcp.shared.exceptions import MCPError

from conftest import (
    ACCESS_KEY,
    MODES,
    SECRET,
    hms_mcp_http,
    http_client,
    management_token,
    snapshot_tools,
    stdio_client,
    text_of,
    tool_as_json,
)

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", MODES)
async def test_lists_every_tool_as_the_snapshot_says(mode):
    async with stdio_client("--simulator", mode=mode) as client:
        listed = (await client.list_tools()).tools
    expected = snapshot_tools()
    assert [tool.name for tool in listed] == [tool["name"] for tool in expected]
    for tool, want in zip(listed, expected):
        got = tool_as_json(tool)
        assert (got["description"], got["inputSchema"], got["annotations"]) == (
            want["description"],
            want["inputSchema"],
            want["annotations"],
        ), tool.name


async def test_without_simulator_no_simulator_tools():
    async with stdio_client() as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
    simulator = {
        "hms-simulate-peer-join",
        "hms-simulate-peer-leave",
        "hms-list-simulated-peer-messages",
        "hms-list-events",
    }
    expected = [tool["name"] for tool in snapshot_tools() if tool["name"] not in simulator]
    assert names == expected


@pytest.mark.parametrize("mode", MODES)
async def test_room_codes_end_to_end(mode):
    name = f"mcp-stdio-codes-{mode}"
    async with stdio_client(mode=mode) as client:
        room = (await client.call_tool("hms-create-room", {"body": {"name": name}})).structured_content
        codes = await client.call_tool("hms-create-room-codes", {"room_id": room["id"]})
        assert codes.is_error is False
        data = codes.structured_content["data"]
        assert sorted(code["role"] for code in data) == ["guest", "host"]
        listed = await client.call_tool("hms-get-room-codes", {"room_id": room["id"], "role": "guest"})
        guest = [code for code in data if code["role"] == "guest"]
        assert listed.structured_content["data"] == guest
        updated = await client.call_tool("hms-update-room-code", {"code": guest[0]["code"], "body": {"enabled": False}})
        assert (updated.is_error, updated.structured_content["enabled"]) == (False, False)
        rooms = await client.call_tool("hms-list-rooms", {"name": name})
        assert [item["id"] for item in rooms.structured_content["data"]] == [room["id"]]


async def test_api_errors_are_tool_errors():
    async with stdio_client() as client:
        result = await client.call_tool("hms-get-room", {"room_id": "0123456789abcdef01234567"})
        assert (result.is_error, text_of(result)) == (True, "Room not found (HTTP 404)")
        assert result.structured_content == {"status": 404, "code": 404, "message": "Room not found", "details": []}
        bad = await client.call_tool("hms-update-room-code", {"code": "abc-defg-hij", "body": {"enabled": "no"}})
        assert bad.is_error is True
        assert text_of(bad).startswith("Invalid body param")


async def test_a_management_token_works_as_credentials():
    async with stdio_client(env={"HMS_MANAGEMENT_TOKEN": management_token()}) as client:
        result = await client.call_tool("hms-list-templates", {})
        assert result.is_error is False
        assert [template["name"] for template in result.structured_content["data"]] == ["conferencing"]


async def test_read_only_offers_and_runs_only_reads():
    async with stdio_client("--read-only", "--simulator") as client:
        listed = (await client.list_tools()).tools
        assert listed, "no tools"
        assert all(tool.annotations.read_only_hint is True for tool in listed)
        expected = [tool["name"] for tool in snapshot_tools() if tool["annotations"]["readOnlyHint"]]
        assert [tool.name for tool in listed] == expected
        with pytest.raises(MCPError) as raised:
            await client.call_tool("hms-create-room", {"body": {"name": "read-only"}})
        assert raised.value.error.message == "unknown tool: hms-create-room"


async def test_allow_list():
    async with stdio_client("--tools", "hms-get-room-codes,list-rooms") as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == ["hms-list-rooms", "hms-get-room-codes"]
        with pytest.raises(MCPError):
            await client.call_tool("hms-create-room-codes", {"room_id": "0123456789abcdef01234567"})


async def test_http_pass_through_uses_the_clients_token():
    with hms_mcp_http(env={}) as url:
        async with http_client(url, {"Authorization": f"Bearer {management_token()}"}) as client:
            result = await client.call_tool("hms-create-room", {"body": {"name": "mcp-pass-through"}})
            assert (result.is_error, result.structured_content["name"]) == (False, "mcp-pass-through")
        async with http_client(url, {"Authorization": "Bearer not-a-token"}) as client:
            refused = await client.call_tool("hms-list-rooms", {})
            assert refused.is_error is True
            assert text_of(refused).startswith("Token validation error")


async def test_http_with_required_bearer():
    env = {"HMS_ACCESS_KEY": ACCESS_KEY, "HMS_SECRET": SECRET, "HMS_MCP_BEARER": "agent-secret-42"}
    with hms_mcp_http(env=env) as url:
        async with http_client(url, {"Authorization": "Bearer agent-secret-42"}) as client:
            result = await client.call_tool("hms-list-rooms", {"name": "mcp-pass-through"})
            assert [room["name"] for room in result.structured_content["data"]] == ["mcp-pass-through"]
        with pytest.raises(Exception):
            async with http_client(url, {"Authorization": "Bearer wrong"}) as client:
                await client.list_tools()
