"use strict";
// What happens when a page loses its connection: a page that comes back within the
// reconnect window stays in the room as the same peer; one that vanishes is removed after
// it. And a removal by another peer reaches the app as a removal, not as a room end.

const assert = require("node:assert/strict");
const { after, before, test } = require("node:test");
const {
  api,
  browserSession,
  join,
  messagesOf,
  peersOf,
  roomWithCodes,
  waitInPage,
} = require("../lib/harness");

const session = browserSession({ before, after });

async function listedIds(roomId) {
  const listed = await api("GET", `/active-rooms/${roomId}/peers`);
  return listed.status === 200 ? Object.keys(listed.body.peers).sort() : [];
}

test("a page that goes offline and comes back within the window stays the same peer", async () => {
  const { room, alice, bob } = await session.aliceAndBob("browser-resume");
  await waitInPage(alice, peersOf, (peers) => peers.length === 2, null, "Alice to see Bob");
  const bobId = await bob.evaluate(() => window.app.localPeer().id);
  const listedBefore = await listedIds(room.id);

  await bob.context().setOffline(true);
  await waitInPage(bob, () => window.app.notifications(), (list) => list.some((n) => n.type === "RECONNECTING"), null, "Bob to notice");
  await bob.context().setOffline(false);
  await waitInPage(bob, () => window.app.notifications(), (list) => list.some((n) => n.type === "RECONNECTED"), null, "Bob to reconnect", 30000);

  assert.deepEqual(await listedIds(room.id), listedBefore, "the same two peers, Bob with his own id");
  assert.ok(listedBefore.includes(bobId));
  // Both connections are up again (the server restarted ICE on the subscribe side).
  await waitInPage(
    bob,
    () => window.app.transports(),
    (list) => list.length === 2 && list.every((t) => t.state === "connected"),
    null,
    "Bob's connections after the reconnect",
  );
  await alice.evaluate(() => window.app.sendToAll("welcome back"));
  await waitInPage(bob, messagesOf, (m) => m.some((x) => x.message === "welcome back"), null, "a message after the reconnect");
  for (const page of [alice, bob]) await page.context().close();
});

test("a page that vanishes is removed after the reconnect window", async () => {
  const { room, alice, bob } = await session.aliceAndBob("browser-vanish");
  await waitInPage(alice, peersOf, (peers) => peers.length === 2, null, "Alice to see Bob");

  // The renderer crashes: no leave, no goodbye, the socket just goes.
  const cdp = await bob.context().newCDPSession(bob);
  const crashed = new Promise((resolve) => bob.once("crash", resolve));
  // The command never answers: the page it would answer from is gone.
  cdp.send("Page.crash").catch(() => {});
  await crashed;
  await waitInPage(alice, peersOf, (peers) => peers.length === 1, null, "Bob removed after the window", 30000);
  const events = await api("GET", `/simulate/events?room_id=${room.id}&type=peer.leave.success`);
  assert.equal(events.status, 200);
  assert.deepEqual(events.body.events.map((e) => [e.data.user_name, e.data.reason]), [["Bob", "websocket closed"]]);
  await alice.context().close();
  await bob.context().close().catch(() => {});
});

test("a peer removed by another peer's request sees a removal by that peer", async () => {
  const { codes } = await roomWithCodes(`browser-kick-${Date.now()}`);
  const alice = await session.open();
  const bob = await session.open();
  await join(alice, codes.host, "Alice");
  await join(bob, codes.guest, "Bob");
  const seen = await waitInPage(alice, peersOf, (peers) => peers.length === 2, null, "Alice to see Bob");
  const bobId = seen.find((peer) => !peer.isLocal).id;

  await alice.evaluate((args) => window.app.removePeer(args.id, "please go"), { id: bobId });
  const told = await waitInPage(bob, () => window.app.notifications(), (list) => list.some((n) => n.type === "REMOVED_FROM_ROOM"), null, "Bob's removal");
  const removal = told.find((n) => n.type === "REMOVED_FROM_ROOM");
  assert.deepEqual([removal.data.roomEnded, removal.data.reason, removal.data.requestedBy], [false, "please go", "Alice"]);
  await waitInPage(alice, peersOf, (peers) => peers.length === 1, null, "Bob gone at Alice");

  // A guest may not remove others: the SDK's call is refused.
  const carol = await session.open();
  await join(carol, codes.guest, "Carol");
  const aliceId = await alice.evaluate(() => window.app.localPeer().id);
  const refusal = await carol.evaluate(async (id) => {
    try {
      await window.app.removePeer(id, "no");
      return null;
    } catch (error) {
      return String(error.message ?? error);
    }
  }, aliceId);
  assert.ok(refusal, "a guest's removal request must fail");
  for (const page of [alice, bob, carol]) await page.context().close();
});
