"use strict";
// Sessions (13-sessions.md) and active rooms (14-active-rooms.md) through
// `hms.sessions.*` and `hms.activeRooms.*`.
//
// Only what can be checked without a peer in the room is tested here: a REST client
// cannot join a room (that needs the signalling protocol), so every call that needs a
// live session is listed as a TODO below rather than faked.
//
// A 404 from these endpoints would also come from an unknown route, so every 404 check
// also asserts the answer did not come from openhms's router fallback
// (`details: ["no route for …"]`), i.e. the endpoint really exists.

const { describe, test, before } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

function assertRouted(res) {
  const details = (res.body && res.body.details) || [];
  assert.ok(
    !details.some((d) => String(d).startsWith("no route for")),
    `answered by the router fallback (endpoint missing): ${res.text}`
  );
}

describe("sessions (no peer has ever joined)", () => {
  let hms;
  let room;
  before(async () => {
    hms = h.makeSdk();
    room = await hms.rooms.create({ name: h.uniqueName("sessions") });
  });

  test("list({room_id}) of a fresh room yields nothing; raw page is an envelope", async () => {
    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/sessions");
    const items = await h.collect(sdk.sessions.list({ room_id: room.id }));
    assert.deepEqual(items, []);
    assert.equal(pages.length, 1, "one request: an empty page ends the iteration");
    const page = pages[0].data;
    assert.equal(typeof page.limit, "number");
    assert.ok(page.data === null || (Array.isArray(page.data) && page.data.length === 0));
  });

  test("list() and list({active:false}) / list({active:true}) answer 200", async () => {
    await h.collect(hms.sessions.list());
    const res = await h.raw("GET", "/v2/sessions", { hms });
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body.data) || res.body.data === null);
    assert.equal(res.body.limit, 10);
    await h.collect(hms.sessions.list({ active: false, limit: 10 }));
    const active = await h.collect(hms.sessions.list({ active: true, room_id: room.id }));
    assert.deepEqual(active, []);
  });

  test("retrieveActiveByRoom of a room with no session throws the SDK's not-found error", async () => {
    const err = await h.captureError(hms.sessions.retrieveActiveByRoom(room.id));
    assert.ok(err instanceof Error, "SDK throws its own Error when data is empty/null");
    assert.equal(err.message, `No active Session found in the room with id - ${room.id}`);
  });

  test("retrieveById of an unknown session => 404 envelope", async () => {
    const err = await h.captureError(hms.sessions.retrieveById(h.UNKNOWN_ID));
    h.assertSdkError(err, 404);
    const res = await h.raw("GET", `/v2/sessions/${h.UNKNOWN_ID}`, { hms });
    h.assertEnvelope(res, 404);
    assertRouted(res);
  });

  test.todo("list/retrieveById of a session with peers (needs a peer joined via signalling)");
  test.todo("retrieveActiveByRoom returns the running session first (needs a live peer)");
});

describe("active rooms (no session running)", () => {
  let hms;
  let room;
  before(async () => {
    hms = h.makeSdk();
    room = await hms.rooms.create({ name: h.uniqueName("active") });
  });

  test("retrieve / retrieveActivePeers of a room without a session => 404 envelope", async () => {
    const e1 = await h.captureError(hms.activeRooms.retrieve(room.id));
    h.assertSdkError(e1, 404);
    const e2 = await h.captureError(hms.activeRooms.retrieveActivePeers(room.id));
    h.assertSdkError(e2, 404);
    for (const path of [`/v2/active-rooms/${room.id}`, `/v2/active-rooms/${room.id}/peers`]) {
      const res = await h.raw("GET", path, { hms });
      h.assertEnvelope(res, 404);
      assertRouted(res);
    }
  });

  test("retrieve of an unknown room => 404 envelope", async () => {
    const err = await h.captureError(hms.activeRooms.retrieve(h.UNKNOWN_ID));
    h.assertSdkError(err, 404);
    const res = await h.raw("GET", `/v2/active-rooms/${h.UNKNOWN_ID}`, { hms });
    h.assertEnvelope(res, 404);
    assertRouted(res);
  });

  test("retrievePeerDetails / updatePeer of an unknown peer => 404", async () => {
    const peer = "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3";
    h.assertSdkError(await h.captureError(hms.activeRooms.retrievePeerDetails(room.id, peer)), 404);
    h.assertSdkError(await h.captureError(hms.activeRooms.updatePeer(room.id, peer, { name: "x" })), 404);
    const res = await h.raw("GET", `/v2/active-rooms/${room.id}/peers/${peer}`, { hms });
    h.assertEnvelope(res, 404);
    assertRouted(res);
  });

  test.todo("retrieve / retrieveActivePeers / retrievePeerDetails with live peers");
  test.todo("updatePeer, sendMessage, removePeer, end({lock}) on a live session");
});
