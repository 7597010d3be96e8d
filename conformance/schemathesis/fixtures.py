"""Creates realistic data on a live openhms server and writes the schemathesis config that
feeds its ids to the generated requests, so that they reach the operations' logic instead
of stopping at 404.

    python fixtures.py BASE_URL TOKEN CONFIG_PATH [--no-peers]

Each id parameter (room_id, template_id, role, code, peer_id, session_id) takes a real value
most of the time and a generated one otherwise. With --no-peers (a server without the peer
simulator) no peer joins, so there are no peer or session ids to give.
"""

import json
import sys
import urllib.error
import urllib.request


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        sys.exit(f"fixtures: {method} {path} answered {error.code}: {error.read().decode()}")
    return json.loads(text) if text else None


def toml_list(values):
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def main():
    base, token, config_path = sys.argv[1:4]
    peers = "--no-peers" not in sys.argv[4:]
    template = call(base, token, "POST", "/v2/templates", {
        "name": "fuzz-template",
        "roles": {"host": {}, "guest": {}, "viewer": {"maxPeerCount": 2}},
    })
    template_ids = [template["id"]]
    roles = list(template["roles"])
    room_ids, codes, peer_ids = [], [], []
    for index in range(3):
        room = call(base, token, "POST", "/v2/rooms", {"name": f"fuzz-room-{index}", "template_id": template["id"]})
        room_ids.append(room["id"])
        codes += [code["code"] for code in call(base, token, "POST", f"/v2/room-codes/room/{room['id']}")["data"]]
        for role in roles[:2] if peers else []:
            for n in range(2):
                peer = call(base, token, "POST", f"/v2/simulate/rooms/{room['id']}/peers",
                            {"role": role, "name": f"{role}-{n}", "user_id": f"user-{index}-{role}-{n}"})
                peer_ids.append(peer["id"])
    # A session that has ended, and the ones still running.
    if peers:
        call(base, token, "POST", f"/v2/active-rooms/{room_ids[-1]}/end-room", {"reason": "fixture"})
    session_ids = [session["id"] for session in call(base, token, "GET", "/v2/sessions?limit=100")["data"]]

    dictionaries = {
        "room_ids": room_ids,
        "template_ids": template_ids,
        "roles": roles,
        "codes": codes,
        "peer_ids": peer_ids,
        "session_ids": session_ids,
    }
    bindings = {
        "path.room_id": "room_ids",
        "query.room_id": "room_ids",
        "body.room_id": "room_ids",
        "path.template_id": "template_ids",
        "query.template_id": "template_ids",
        "path.role": "roles",
        "query.role": "roles",
        "body.role": "roles",
        "path.code": "codes",
        "body.code": "codes",
        "path.peer_id": "peer_ids",
        "body.peer_id": "peer_ids",
        "path.session_id": "session_ids",
    }
    # A parameter without real values is left to the generator.
    dictionaries = {name: values for name, values in dictionaries.items() if values}
    bindings = {key: name for key, name in bindings.items() if name in dictionaries}
    lines = ["# Written by fixtures.py for one run.", "[dictionaries]"]
    for name, values in dictionaries.items():
        lines.append(f"{name} = {{ values = {toml_list(values)} }}")
    lines += ["", "[parameters]"]
    for key, dictionary in bindings.items():
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = 0.8 }}')
    with open(config_path, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print(f"fixtures: {len(room_ids)} rooms, {len(codes)} room codes, {len(peer_ids)} peers, "
          f"{len(session_ids)} sessions")


if __name__ == "__main__":
    main()
