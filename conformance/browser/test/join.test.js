"use strict";
// Real peers: the official web SDK joins openhms rooms by room code over HTTPS, sees the
// others, chats, is controlled through the REST API, and leaves.

const assert = require("node:assert/strict");
const { after, before, test } = require("node:test");
const harness = require("../lib/harness");
const { BASE, api, browserSession, waitInPage } = harness;
const { messagesOf, notificationsOf, peersOf } = harness;

const session = browserSession({ before, after });

test("two browsers join by room code, see each other, chat exactly once, and leave", async () => {
  const { room, alice, bob } = await session.aliceAndBob("browser-chat");

  // Both peer connections of each peer are up, with the ion-sfu channel open on each:
  // the client's on the publish connection, the server's on the subscribe connection.
  for (const page of [alice, bob]) {
    const transports = await waitInPage(
      page,
      () => window.app.transports(),
      (list) => list.length === 2 && list.every((t) => t.state === "connected" && t.channels.includes("ion-sfu:open")),
      null,
      "both peer connections to connect",
    );
    assert.equal(transports.length, 2);
  }

  const seenByAlice = await waitInPage(alice, peersOf, (peers) => peers.length === 2, null, "Alice to see Bob");
  const bobAsSeen = seenByAlice.find((peer) => !peer.isLocal);
  assert.deepEqual([bobAsSeen.name, bobAsSeen.role], ["Bob", "guest"]);
  const seenByBob = await waitInPage(bob, peersOf, (peers) => peers.length === 2, null, "Bob to see Alice");
  const aliceAsSeen = seenByBob.find((peer) => !peer.isLocal);
  assert.deepEqual([aliceAsSeen.name, aliceAsSeen.role], ["Alice", "host"]);

  // The REST API lists both real peers.
  const listed = await api("GET", `/active-rooms/${room.id}/peers`);
  assert.equal(listed.status, 200);
  const names = Object.values(listed.body.peers).map((peer) => `${peer.name}/${peer.role}`).sort();
  assert.deepEqual(names, ["Alice/host", "Bob/guest"]);

  // To everyone, to a role, to one peer: each arrives once, and never back at its sender.
  await alice.evaluate(() => window.app.sendToAll("hello all"));
  await alice.evaluate(() => window.app.sendToRoles("hello guests", ["guest"]));
  await alice.evaluate((peerId) => window.app.sendToPeer("hello bob", peerId), bobAsSeen.id);
  await bob.evaluate(() => window.app.sendToAll("hi alice"));
  const bobsMessages = await waitInPage(bob, messagesOf, (m) => m.length === 4, null, "Bob's four messages");
  assert.deepEqual(
    bobsMessages.map((m) => m.message).sort(),
    ["hello all", "hello bob", "hello guests", "hi alice"],
  );
  for (const message of bobsMessages.filter((m) => m.message.startsWith("hello"))) {
    assert.equal(message.senderName, "Alice");
  }
  const alicesMessages = await waitInPage(alice, messagesOf, (m) => m.length === 4, null, "Alice's messages");
  assert.equal(alicesMessages.filter((m) => m.message === "hi alice").length, 1);
  assert.equal(alicesMessages.filter((m) => m.message === "hello all").length, 1, "no echo to the sender");

  // A message through the REST API reaches both.
  const sent = await api("POST", `/active-rooms/${room.id}/send-message`, { message: "from the backend" });
  assert.equal(sent.status, 200, JSON.stringify(sent.body));
  for (const page of [alice, bob]) {
    await waitInPage(page, messagesOf, (m) => m.some((x) => x.message === "from the backend"), null, "the API's message");
  }

  // A rename through the REST API reaches the other peer.
  const renamed = await api("POST", `/active-rooms/${room.id}/peers/${bobAsSeen.id}`, { name: "Robert" });
  assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
  await waitInPage(alice, peersOf, (peers) => peers.some((p) => p.name === "Robert"), null, "the rename");
  await waitInPage(bob, () => window.app.localPeer(), (peer) => peer?.name === "Robert", null, "Bob's own rename");

  // A role change through the REST API: Bob becomes a host, and both see it.
  const promoted = await api("POST", `/active-rooms/${room.id}/peers/${bobAsSeen.id}`, { role: "host" });
  assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
  await waitInPage(bob, () => window.app.localPeer(), (peer) => peer?.role === "host", null, "Bob's new role");
  await waitInPage(alice, peersOf, (peers) => peers.some((p) => p.id === bobAsSeen.id && p.role === "host"), null, "Bob's role at Alice");

  // Bob leaves: Alice sees him go, and the API lists Alice alone.
  await bob.evaluate(() => window.app.leave());
  await waitInPage(alice, peersOf, (peers) => peers.length === 1, null, "Bob to be gone");
  const afterLeave = await api("GET", `/active-rooms/${room.id}/peers`);
  assert.deepEqual(Object.values(afterLeave.body.peers).map((p) => p.name), ["Alice"]);
  await alice.evaluate(() => window.app.leave());
  await alice.context().close();
  await bob.context().close();
});

test("a peer removed by the API is told so, and ending the room with lock keeps everyone out", async () => {
  const { room, codes, alice, bob } = await session.aliceAndBob("browser-end");
  const bobId = await bob.evaluate(() => window.app.localPeer().id);
  await waitInPage(alice, peersOf, (peers) => peers.length === 2, null, "Alice to see Bob");

  const removed = await api("POST", `/active-rooms/${room.id}/remove-peers`, { peer_id: bobId, reason: "misconduct" });
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  const told = await waitInPage(
    bob,
    notificationsOf,
    (list) => list.some((n) => n.type === "ROOM_ENDED" || n.type === "REMOVED_FROM_ROOM"),
    null,
    "Bob to be told of his removal",
  );
  const removal = told.find((n) => n.type === "ROOM_ENDED" || n.type === "REMOVED_FROM_ROOM");
  assert.equal(removal.data.roomEnded, false);
  assert.equal(removal.data.reason, "misconduct");
  await waitInPage(alice, peersOf, (peers) => peers.length === 1, null, "Bob gone at Alice");

  const ended = await api("POST", `/active-rooms/${room.id}/end-room`, { reason: "done", lock: true });
  assert.equal(ended.status, 200, JSON.stringify(ended.body));
  const aliceTold = await waitInPage(alice, notificationsOf, (list) => list.some((n) => n.type === "ROOM_ENDED"), null, "the room's end");
  assert.equal(aliceTold.find((n) => n.type === "ROOM_ENDED").data.roomEnded, true);

  // The room is locked: a new join is refused with a clear error rather than hanging.
  const carol = await session.open();
  const refusal = await carol.evaluate(async (args) => {
    try {
      await window.app.join(args);
      return null;
    } catch (error) {
      return { code: error.code ?? null, message: String(error.message ?? error) };
    }
  }, { base: BASE, roomCode: codes.guest, userName: "Carol" });
  assert.ok(refusal, "the join into a locked room must fail");
  for (const page of [alice, bob, carol]) await page.context().close();
});
