"use strict";
// Sessions (13-sessions.md) and active rooms (14-active-rooms.md) through
// `hms.sessions.*` and `hms.activeRooms.*`.
//
// A REST client cannot join a room (that needs the signalling protocol), so peers are put
// in rooms with openhms's peer simulator (`hms serve --simulate-peers`, started so by
// run.sh): `POST/DELETE /v2/simulate/rooms/{room}/peers[/{peer}]` and
// `GET …/peers/{peer}/messages` (what a peer received: message, removed, role_changed,
// name_changed, metadata_changed, room_ended). Raw `fetch` is used for those simulator
// endpoints, for the envelope behind an SDK error, and for the peer-list filters the SDK
// cannot send; every sessions / activeRooms call itself goes through the SDK.
//
// A 404 from these endpoints would also come from an unknown route, so every raw 404 check
// also asserts the answer did not come from openhms's router fallback
// (`details: ["no route for …"]`), i.e. the endpoint really exists.

const { describe, test, before } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");
const retry = require("../lib/eventually");

function assertRouted(res) {
  const details = (res.body && res.body.details) || [];
  assert.ok(
    !details.some((d) => String(d).startsWith("no route for")),
    `answered by the router fallback (endpoint missing): ${res.text}`
  );
}

// ------------------------------------------------------------------ helpers for live rooms

const UNKNOWN_PEER = "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3";
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Session API (13 §1): RFC 3339 UTC, millisecond precision, trailing zeros dropped.
const MILLIS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{0,2}[1-9])?Z$/;
// Active-room API (14 §1.1): RFC 3339 UTC, nanosecond precision (9 digits).
const NANOS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

const ACTIVE_PEER_KEYS = ["id", "joined_at", "metadata", "name", "role", "user_id"];
const TRACK_KEYS = ["description", "id", "mute", "source", "started_at", "stream_id", "type"];
const SESSION_KEYS = ["active", "created_at", "customer_id", "id", "peers", "room_id", "updated_at"];
const SESSION_PEER_KEYS = ["id", "joined_at", "name", "role", "session_id", "user_id"];

/** Epoch milliseconds (fractional) of an RFC 3339 text with any number of digits. */
function preciseMillis(text) {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(text);
  assert.ok(m, `RFC 3339 UTC timestamp expected: ${text}`);
  return Date.parse(`${m[1]}Z`) + (m[2] ? Number(`0.${m[2]}`) * 1000 : 0);
}

/** Epoch millis of a Date (the SDK's cast) or of a timestamp string. */
function ms(v) {
  if (v instanceof Date) return v.getTime();
  return preciseMillis(v);
}

/** `value` (ms precision) is the instant `precise` (ns precision) at millisecond precision. */
function assertSameInstant(value, precise, what) {
  assert.ok(
    Math.abs(ms(value) - ms(precise)) < 1,
    `${what}: ${value instanceof Date ? value.toISOString() : value} should be ${precise} at ms precision`
  );
}

/** A top-level `*_at` the SDK cast to Date, or a nested one it left as a string. */
function assertTime(v, re, what) {
  if (v instanceof Date) assert.ok(!Number.isNaN(v.getTime()), `${what}: valid Date`);
  else assert.match(v, re, `${what}: ${v}`);
}

/** Active-room peer (14 §1.2): exact keys, `tracks` only in single-peer answers. */
function assertActivePeer(p, { tracks }) {
  assert.deepEqual(
    Object.keys(p).sort(),
    tracks ? [...ACTIVE_PEER_KEYS, "tracks"].sort() : ACTIVE_PEER_KEYS,
    `active peer keys: ${JSON.stringify(p)}`
  );
  assert.match(p.id, UUID_RE);
  for (const k of ["name", "user_id", "metadata", "role"]) assert.equal(typeof p[k], "string", k);
  assertTime(p.joined_at, NANOS_RE, "peer joined_at");
  if (!tracks) return;
  assert.ok(p.tracks && typeof p.tracks === "object" && !Array.isArray(p.tracks), "tracks is a map");
  for (const [key, t] of Object.entries(p.tracks)) {
    assert.deepEqual(Object.keys(t).sort(), TRACK_KEYS, `track keys: ${JSON.stringify(t)}`);
    assert.equal(key, t.id, "tracks are keyed by track id");
    assert.match(t.id, UUID_RE);
    assert.match(t.stream_id, UUID_RE);
    assert.equal(typeof t.mute, "boolean");
    assert.ok(["audio", "video"].includes(t.type), `track type ${t.type}`);
    assert.equal(typeof t.source, "string");
    assert.equal(typeof t.description, "string");
    assert.match(t.started_at, NANOS_RE, "track started_at (nested: never cast by the SDK)");
  }
}

/** `actual` is the peer `expected` (a join answer) with `changes` applied. */
function assertSamePeer(actual, expected, changes = {}) {
  const want = { ...expected, ...changes };
  for (const k of ["id", "name", "user_id", "metadata", "role"]) {
    assert.equal(actual[k], want[k], `peer ${k}`);
  }
  assertSameInstant(actual.joined_at, expected.joined_at, "peer joined_at");
  if ("tracks" in actual && "tracks" in expected) assert.deepEqual(actual.tracks, expected.tracks);
}

/**
 * Session object (13 §1). `room` is the SDK room it ran in. Top-level `created_at` /
 * `updated_at` are Dates when the SDK cast them (retrieveById), strings otherwise (list
 * items, retrieveActiveByRoom); peers' `joined_at` / `left_at` are always strings.
 */
function assertSession(s, room) {
  const keys = Object.keys(s);
  for (const k of SESSION_KEYS) assert.ok(keys.includes(k), `session has ${k}: ${JSON.stringify(s)}`);
  for (const k of keys) assert.ok([...SESSION_KEYS, "app_id"].includes(k), `unexpected session key ${k}`);
  assert.match(s.id, h.ROOM_ID_RE, "session id is 24 hex");
  assert.equal(s.room_id, room.id);
  assert.equal(s.customer_id, room.customer_id);
  if ("app_id" in s) assert.equal(s.app_id, room.app_id);
  assert.equal(typeof s.active, "boolean");
  assertTime(s.created_at, MILLIS_RE, "session created_at");
  assertTime(s.updated_at, MILLIS_RE, "session updated_at");
  assert.ok(s.peers && typeof s.peers === "object" && !Array.isArray(s.peers), "peers is a map");
  const times = [];
  for (const [key, p] of Object.entries(s.peers)) {
    const pk = Object.keys(p);
    for (const k of SESSION_PEER_KEYS) assert.ok(pk.includes(k), `session peer has ${k}: ${JSON.stringify(p)}`);
    for (const k of pk) {
      assert.ok([...SESSION_PEER_KEYS, "left_at", "user"].includes(k), `unexpected session peer key ${k}`);
    }
    assert.equal(key, p.id, "session peers are keyed by peer id");
    assert.match(p.id, UUID_RE);
    assert.equal(p.session_id, s.id);
    for (const k of ["name", "role", "user_id"]) assert.equal(typeof p[k], "string", k);
    assert.match(p.joined_at, MILLIS_RE, "session peer joined_at");
    times.push(ms(p.joined_at));
    if ("left_at" in p) {
      assert.match(p.left_at, MILLIS_RE, "session peer left_at");
      assert.ok(ms(p.left_at) >= ms(p.joined_at), "left_at >= joined_at");
      times.push(ms(p.left_at));
    } else {
      assert.equal(s.active, true, `peer ${p.id} of a closed session has no left_at`);
    }
  }
  assert.ok(Object.keys(s.peers).length > 0, "a session always has the peer that opened it");
  const firstJoin = Math.min(...Object.values(s.peers).map((p) => ms(p.joined_at)));
  assert.equal(ms(s.created_at), firstJoin, "session starts when its first peer joins");
  assert.ok(ms(s.updated_at) >= Math.max(...times), "updated_at is the last change");
  if (!s.active) {
    const lastLeave = Math.max(...Object.values(s.peers).map((p) => ms(p.left_at)));
    assert.equal(ms(s.updated_at), lastLeave, "a closed session's updated_at is when its last peer left");
  }
}

// ---------------------------------------------------------------- the peer simulator

async function join(hms, roomId, body) {
  const res = await h.raw("POST", `/v2/simulate/rooms/${roomId}/peers`, { hms, body });
  assert.equal(res.status, 200, `simulated join: ${res.status} ${res.text}`);
  assertActivePeer(res.body, { tracks: true });
  assert.equal(res.body.role, body.role);
  if (body.name !== undefined) assert.equal(res.body.name, body.name);
  if (body.user_id !== undefined) assert.equal(res.body.user_id, body.user_id);
  assert.equal(res.body.metadata, body.metadata ?? "", "metadata is \"\" when unset");
  return res.body;
}

async function leave(hms, roomId, peerId) {
  const res = await h.raw("DELETE", `/v2/simulate/rooms/${roomId}/peers/${peerId}`, { hms });
  assert.equal(res.status, 200, `simulated leave: ${res.status} ${res.text}`);
}

/** What a simulated peer received, oldest first, without the `at` of each delivery. */
async function inbox(hms, roomId, peerId) {
  const res = await h.raw("GET", `/v2/simulate/rooms/${roomId}/peers/${peerId}/messages`, { hms });
  assert.equal(res.status, 200, `simulated inbox: ${res.status} ${res.text}`);
  assert.ok(Array.isArray(res.body.messages));
  return res.body.messages.map(({ at, ...rest }) => {
    assert.match(at, h.RFC3339_UTC_RE);
    return rest;
  });
}

const texts = (deliveries) => deliveries.filter((d) => d.type === "message").map((d) => d.message);

/** Retries `fn` until it stops throwing (remove-peers / end-room are asynchronous, 14 §7-8). */
const eventually = (fn, timeoutMs = 5000) => retry.eventually(fn, timeoutMs, 50);

/** An SDK whose successful /active-rooms answers are recorded (acks the SDK discards). */
function recordingSdk() {
  const sdk = h.makeSdk();
  return { sdk, answers: h.recordPages(sdk, "/active-rooms") };
}

const sortedIds = (obj) => Object.keys(obj).sort();

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

  test("sendMessage / removePeer / end of a room without a session (or unknown) => 404", async () => {
    for (const id of [room.id, h.UNKNOWN_ID]) {
      h.assertSdkError(await h.captureError(hms.activeRooms.sendMessage(id, { message: "hi" })), 404);
      h.assertSdkError(await h.captureError(hms.activeRooms.removePeer(id, { role: "guest" })), 404);
      h.assertSdkError(await h.captureError(hms.activeRooms.end(id, { reason: "x" })), 404);
    }
    const res = await h.raw("POST", `/v2/active-rooms/${room.id}/end-room`, { hms, body: {} });
    h.assertEnvelope(res, 404);
    assertRouted(res);
    // ending nothing does not lock the room
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, true);
  });
});

describe("sessions with simulated peers", () => {
  let hms;
  before(() => {
    hms = h.makeSdk();
  });
  const freshRoom = (tag) => hms.rooms.create({ name: h.uniqueName(tag) });

  test("retrieveActiveByRoom / retrieveById of a running session: peers map keyed by id, no left_at", async () => {
    const room = await freshRoom("sess-live");
    const alice = await join(hms, room.id, { role: "host", name: "Alice", user_id: "user-alice", metadata: '{"a":1}' });
    const bob = await join(hms, room.id, { role: "guest", name: "Bob", user_id: "user-bob" });
    assert.notEqual(alice.id, bob.id);

    const active = await hms.sessions.retrieveActiveByRoom(room.id);
    // data[0] of a list page: the SDK only casts top-level *_at of the page, so strings here
    assert.equal(typeof active.created_at, "string");
    assert.equal(typeof active.updated_at, "string");
    assertSession(active, room);
    assert.equal(active.active, true);
    assert.deepEqual(sortedIds(active.peers), [alice.id, bob.id].sort());
    for (const j of [alice, bob]) {
      const p = active.peers[j.id];
      const { joined_at, ...rest } = p;
      assert.deepEqual(rest, { id: j.id, session_id: active.id, name: j.name, role: j.role, user_id: j.user_id });
      assertSameInstant(joined_at, j.joined_at, "session peer joined_at");
    }
    assertSameInstant(active.created_at, alice.joined_at, "session created_at = first join");

    const byId = await hms.sessions.retrieveById(active.id);
    assert.ok(byId.created_at instanceof Date, "retrieveById: SDK casts created_at to Date");
    assert.ok(byId.updated_at instanceof Date, "retrieveById: SDK casts updated_at to Date");
    assertSession(byId, room);
    assert.deepEqual(h.normDates(byId), h.normDates(active), "retrieveById = retrieveActiveByRoom");
    for (const p of Object.values(byId.peers)) {
      assert.equal(typeof p.joined_at, "string", "nested joined_at is left as a string by the SDK");
    }

    const ar = await hms.activeRooms.retrieve(room.id);
    assert.equal(ar.session.id, active.id, "the active room runs the active session");
    assertSameInstant(active.created_at, ar.session.created_at, "same session start in both APIs");

    const res = await h.raw("GET", `/v2/sessions/${active.id}`, { hms });
    assert.equal(res.status, 200);
    assert.ok(!Array.isArray(res.body.peers) && typeof res.body.peers === "object", "raw peers is an object");
  });

  test("a peer that leaves keeps its entry with left_at; a rejoin is a new peer id; the session stays open", async () => {
    const room = await freshRoom("sess-leave");
    const alice = await join(hms, room.id, { role: "host", name: "Alice", user_id: "user-alice" });
    const bob = await join(hms, room.id, { role: "guest", name: "Bob", user_id: "user-bob" });
    const sessionId = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    await leave(hms, room.id, bob.id);

    const s1 = await hms.sessions.retrieveById(sessionId);
    assertSession(s1, room);
    assert.equal(s1.active, true);
    assert.ok(!("left_at" in s1.peers[alice.id]), "a connected peer has no left_at");
    assert.match(s1.peers[bob.id].left_at, MILLIS_RE);
    assert.ok(ms(s1.updated_at) >= ms(s1.peers[bob.id].left_at));

    const bob2 = await join(hms, room.id, { role: "guest", name: "Bob", user_id: "user-bob" });
    assert.notEqual(bob2.id, bob.id, "rejoin => new peer id");
    const s2 = await hms.sessions.retrieveById(sessionId);
    assertSession(s2, room);
    assert.equal(s2.active, true);
    assert.deepEqual(sortedIds(s2.peers), [alice.id, bob.id, bob2.id].sort(), "every peer that ever joined");
    assert.equal(s2.peers[bob2.id].user_id, s2.peers[bob.id].user_id);
    assert.ok(!("left_at" in s2.peers[bob2.id]));
    assert.equal(s2.peers[bob.id].left_at, s1.peers[bob.id].left_at);

    const ar = await hms.activeRooms.retrieve(room.id);
    assert.equal(ar.session.id, sessionId);
    assert.deepEqual([...ar.session.peers].sort(), [alice.id, bob2.id].sort(), "only connected peers");
    h.assertSdkError(await h.captureError(hms.activeRooms.retrievePeerDetails(room.id, bob.id)), 404);
    assert.equal((await hms.sessions.retrieveActiveByRoom(room.id)).id, sessionId);
  });

  test("the last peer leaving closes the session; the next join opens a new one, listed first", async () => {
    const room = await freshRoom("sess-close");
    const a = await join(hms, room.id, { role: "host" });
    const b = await join(hms, room.id, { role: "guest" });
    const s1id = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    await leave(hms, room.id, a.id);
    await leave(hms, room.id, b.id);

    const closed = await hms.sessions.retrieveById(s1id);
    assertSession(closed, room);
    assert.equal(closed.active, false);
    assert.deepEqual(sortedIds(closed.peers), [a.id, b.id].sort());
    assert.ok(ms(closed.peers[b.id].left_at) >= ms(closed.peers[a.id].left_at));

    const err = await h.captureError(hms.sessions.retrieveActiveByRoom(room.id));
    assert.equal(err.message, `No active Session found in the room with id - ${room.id}`);
    h.assertSdkError(await h.captureError(hms.activeRooms.retrieve(room.id)), 404);
    assert.deepEqual(await h.collect(hms.sessions.list({ room_id: room.id, active: true })), []);
    const inactive = await h.collect(hms.sessions.list({ room_id: room.id, active: false }));
    assert.deepEqual(inactive.map((s) => s.id), [s1id]);
    assert.deepEqual(h.normDates(inactive[0]), h.normDates(closed));

    const c = await join(hms, room.id, { role: "guest", name: "Carol" });
    const s2 = await hms.sessions.retrieveActiveByRoom(room.id);
    assertSession(s2, room);
    assert.notEqual(s2.id, s1id, "a new session");
    assert.equal(s2.active, true);
    assert.deepEqual(sortedIds(s2.peers), [c.id]);
    assert.ok(ms(s2.created_at) >= ms(closed.updated_at));

    const all = await h.collect(hms.sessions.list({ room_id: room.id }));
    assert.deepEqual(all.map((s) => [s.id, s.active]), [[s2.id, true], [s1id, false]], "newest first, both states");
    await leave(hms, room.id, c.id);
  });

  test("the SDK iterator walks > 1 page: 12 closed sessions + 1 open, limit 10", async () => {
    const room = await freshRoom("sess-pages");
    const created = []; // [{sessionId, peer}] oldest first
    for (let i = 0; i < 13; i += 1) {
      const peer = await join(hms, room.id, { role: i % 2 ? "guest" : "host", name: `Cycle ${i}`, user_id: `cycle-${i}` });
      const s = await hms.sessions.retrieveActiveByRoom(room.id);
      assert.deepEqual(sortedIds(s.peers), [peer.id], `cycle ${i}: a fresh session with only its peer`);
      created.push({ sessionId: s.id, peer });
      if (i < 12) await leave(hms, room.id, peer.id);
    }
    const ids = created.map((c) => c.sessionId);
    assert.equal(new Set(ids).size, 13, "13 distinct sessions");
    const newestFirst = [...ids].reverse();

    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/sessions");
    const items = await h.collect(sdk.sessions.list({ room_id: room.id, limit: 10 }));
    assert.deepEqual(items.map((s) => s.id), newestFirst, "every session once, newest first");
    assert.equal(pages.length, 2, "a full page of 10, then the last 3");
    assert.equal(pages[0].data.limit, 10);
    assert.equal(pages[0].data.data.length, 10);
    assert.equal(pages[0].data.last, pages[0].data.data[9].id, "`last` = id of the page's last item");
    assert.ok(pages[1].query.includes(`start=${pages[0].data.last}`), `2nd query: ${pages[1].query}`);
    assert.equal(pages[1].data.limit, 10);
    assert.deepEqual(pages[1].data.data.map((s) => s.id), newestFirst.slice(10));
    items.forEach((s, k) => {
      const { peer } = created[12 - k];
      assertSession(s, room);
      assert.equal(s.active, k === 0, "only the newest session is still running");
      assert.deepEqual(sortedIds(s.peers), [peer.id]);
      assert.equal(s.peers[peer.id].user_id, peer.user_id);
      assert.equal(s.peers[peer.id].name, peer.name);
      assert.equal(s.peers[peer.id].role, peer.role);
      assert.equal("left_at" in s.peers[peer.id], k !== 0);
    });

    const closed = await h.collect(hms.sessions.list({ room_id: room.id, active: false, limit: 10 }));
    assert.deepEqual(closed.map((s) => s.id), newestFirst.slice(1));
    const open = await h.collect(hms.sessions.list({ room_id: room.id, active: true }));
    assert.deepEqual(open.map((s) => s.id), [ids[12]]);
    assert.equal((await hms.sessions.retrieveActiveByRoom(room.id)).id, ids[12]);

    // A page exactly `limit` long must be followed by an empty (or null) page.
    const sdk13 = h.makeSdk();
    const pages13 = h.recordPages(sdk13, "/sessions");
    const items13 = await h.collect(sdk13.sessions.list({ room_id: room.id, limit: 13 }));
    assert.deepEqual(items13.map((s) => s.id), newestFirst);
    assert.equal(pages13.length, 2);
    const tail = pages13[1].data.data;
    assert.ok(tail === null || (Array.isArray(tail) && tail.length === 0), `empty final page: ${JSON.stringify(tail)}`);

    // Workspace-wide: other rooms' sessions interleave, but ours keep their order, no duplicates.
    const everything = await h.collect(hms.sessions.list({ limit: 10 }));
    const everyId = everything.map((s) => s.id);
    assert.equal(new Set(everyId).size, everyId.length, "no session twice across pages");
    assert.deepEqual(everyId.filter((id) => ids.includes(id)), newestFirst);
    for (let k = 1; k < everything.length; k += 1) {
      assert.ok(everyId[k - 1] > everyId[k], "decreasing id order across pages");
    }
    const running = await h.collect(hms.sessions.list({ active: true, limit: 10 }));
    assert.ok(running.every((s) => s.active === true));
    assert.ok(running.some((s) => s.id === ids[12]));
    assert.ok(!running.some((s) => newestFirst.slice(1).includes(s.id)));

    await leave(hms, room.id, created[12].peer.id);
  });
});

describe("active rooms with simulated peers", () => {
  let hms;
  before(() => {
    hms = h.makeSdk();
  });
  const freshRoom = (tag) => hms.rooms.create({ name: h.uniqueName(tag) });

  test("retrieve: the running session and its connected peers; retrievePeerDetails(room, session.peers[0])", async () => {
    const room = await freshRoom("ar-retrieve");
    const host = await join(hms, room.id, {
      role: "host", name: "Hana", user_id: "user-hana", metadata: '{"isHandRaised":false}',
    });
    const guest = await join(hms, room.id, { role: "guest", name: "Gus", user_id: "user-gus" });

    const ar = await hms.activeRooms.retrieve(room.id);
    assert.deepEqual(Object.keys(ar).sort(), ["customer_id", "id", "name", "session"]);
    assert.equal(ar.id, room.id);
    assert.equal(ar.name, room.name);
    assert.equal(ar.customer_id, room.customer_id);
    assert.deepEqual(Object.keys(ar.session).sort(), ["created_at", "id", "peers"]);
    assert.equal(ar.session.id, (await hms.sessions.retrieveActiveByRoom(room.id)).id);
    assert.match(ar.session.created_at, NANOS_RE, "nested: not cast by the SDK; nanosecond precision");
    assertSameInstant(ar.session.created_at, host.joined_at, "session starts with the first join");
    assert.ok(Array.isArray(ar.session.peers), "session.peers is an array of ids here");
    assert.deepEqual([...ar.session.peers].sort(), [host.id, guest.id].sort());

    // the SDK's own test
    const first = await hms.activeRooms.retrievePeerDetails(room.id, ar.session.peers[0]);
    assert.equal(first.id, ar.session.peers[0]);

    for (const j of [host, guest]) {
      const p = await hms.activeRooms.retrievePeerDetails(room.id, j.id);
      assertActivePeer(p, { tracks: true });
      assert.ok(p.joined_at instanceof Date, "top-level joined_at cast to Date by the SDK");
      assertSamePeer(p, j);
    }
  });

  test("retrieveActivePeers: map keyed by peer id without tracks; role / user_id filters", async () => {
    const room = await freshRoom("ar-peers");
    const host = await join(hms, room.id, { role: "host", name: "Hana", user_id: "u-host" });
    const g1 = await join(hms, room.id, { role: "guest", name: "G1", user_id: "u-g1", metadata: "m1" });
    const g2 = await join(hms, room.id, { role: "guest", name: "G2", user_id: "u-g2" });

    const peers = await hms.activeRooms.retrieveActivePeers(room.id);
    assert.deepEqual(sortedIds(peers), [host.id, g1.id, g2.id].sort());
    for (const j of [host, g1, g2]) {
      assertActivePeer(peers[j.id], { tracks: false });
      const { tracks, ...withoutTracks } = j;
      assert.deepEqual(peers[j.id], withoutTracks, "same peer, same wire values as when it joined");
    }

    // Filters (14 §3): the SDK's retrieveActivePeers sends none, so raw.
    const filtered = async (query) => {
      const res = await h.raw("GET", `/v2/active-rooms/${room.id}/peers?${query}`, { hms });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(Object.keys(res.body), ["peers"]);
      return sortedIds(res.body.peers);
    };
    assert.deepEqual(await filtered("role=guest"), [g1.id, g2.id].sort());
    assert.deepEqual(await filtered("role=host"), [host.id]);
    assert.deepEqual(await filtered("user_id=u-g1"), [g1.id]);
    assert.deepEqual(await filtered("role=guest&user_id=u-g2"), [g2.id]);
    assert.deepEqual(await filtered("role=host&user_id=u-g2"), []);
    const none = await h.raw("GET", `/v2/active-rooms/${room.id}/peers?user_id=nobody`, { hms });
    assert.equal(none.status, 200);
    assert.deepEqual(none.body, { peers: {} }, "no match => 200 with an empty peers map");
  });

  test("updatePeer: partial updates of name, metadata and role; the peer is told; bad role => 400", async () => {
    const room = await freshRoom("ar-update");
    const host = await join(hms, room.id, { role: "host", name: "Hana" });
    const gina = await join(hms, room.id, { role: "guest", name: "Gina", user_id: "u-gina" });

    const u1 = await hms.activeRooms.updatePeer(room.id, gina.id, { name: "Gina B" });
    assertActivePeer(u1, { tracks: true });
    assert.ok(u1.joined_at instanceof Date);
    assertSamePeer(u1, gina, { name: "Gina B" });

    const u2 = await hms.activeRooms.updatePeer(room.id, gina.id, { metadata: '{"isHandRaised":true}' });
    assertSamePeer(u2, gina, { name: "Gina B", metadata: '{"isHandRaised":true}' });

    const u3 = await hms.activeRooms.updatePeer(room.id, gina.id, { role: "host" });
    assertSamePeer(u3, gina, { name: "Gina B", metadata: '{"isHandRaised":true}', role: "host" });

    const details = await hms.activeRooms.retrievePeerDetails(room.id, gina.id);
    assert.deepEqual(h.normDates(details), h.normDates(u3), "retrievePeerDetails reflects the updates");
    const listed = (await hms.activeRooms.retrieveActivePeers(room.id))[gina.id];
    const { tracks, ...u3NoTracks } = u3;
    assert.deepEqual(h.normDates(listed), h.normDates(u3NoTracks));

    assert.deepEqual(await inbox(hms, room.id, gina.id), [
      { type: "name_changed", name: "Gina B" },
      { type: "metadata_changed", metadata: '{"isHandRaised":true}' },
      { type: "role_changed", role: "host", previous_role: "guest" },
    ]);
    assert.deepEqual(await inbox(hms, room.id, host.id), [], "other peers are not told");

    // all three at once
    const u4 = await hms.activeRooms.updatePeer(room.id, gina.id, { name: "G", role: "guest", metadata: "" });
    assertSamePeer(u4, gina, { name: "G", metadata: "", role: "guest" });
    const latest = (await inbox(hms, room.id, gina.id)).slice(3);
    const byType = (a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0);
    assert.deepEqual(latest.sort(byType), [
      { type: "metadata_changed", metadata: "" },
      { type: "name_changed", name: "G" },
      { type: "role_changed", role: "guest", previous_role: "host" },
    ]);

    // role not in the template => 400 (14 §5 / error table), nothing changes
    h.assertSdkError(
      await h.captureError(hms.activeRooms.updatePeer(room.id, gina.id, { role: "no-such-role" })),
      400
    );
    assertSamePeer(await hms.activeRooms.retrievePeerDetails(room.id, gina.id), gina, { name: "G", metadata: "" });
    assert.equal((await inbox(hms, room.id, gina.id)).length, 6, "a refused update tells nobody");

    // the session API keeps the display name the peer joined with (13 §1.1)
    const s = await hms.sessions.retrieveActiveByRoom(room.id);
    assert.equal(s.peers[gina.id].name, "Gina");
    assert.equal(s.peers[gina.id].user_id, "u-gina");
  });

  test("sendMessage: the SDK's `peerId` reaches exactly that peer; role; broadcast; peer wins over role", async () => {
    const room = await freshRoom("ar-message");
    const a = await join(hms, room.id, { role: "host", name: "A" });
    const b = await join(hms, room.id, { role: "guest", name: "B" });
    const c = await join(hms, room.id, { role: "guest", name: "C" });
    const { sdk, answers } = recordingSdk();

    const sent = [
      [{ peerId: b.id, message: "to-b" }, [b]],
      [{ role: "guest", message: "to-guests", type: "custom_event" }, [b, c]],
      [{ message: "to-all", type: "chat" }, [a, b, c]],
      [{ peerId: a.id, role: "guest", message: "peer-wins", type: "emoji" }, [a]],
      [{ peer_id: c.id, message: "to-c" }, [c]], // the REST spelling (not in the SDK's type)
      [{ role: "", message: "empty-role" }, [a, b, c]], // the docs' example: "" => everyone
    ];
    for (const [params] of sent) {
      assert.equal(await sdk.activeRooms.sendMessage(room.id, params), undefined);
      const ack = answers[answers.length - 1];
      assert.equal(ack.url, `/active-rooms/${room.id}/send-message`);
      assert.deepEqual(ack.data, { message: "message sent" });
    }
    for (const peer of [a, b, c]) {
      const got = await inbox(hms, room.id, peer.id);
      const want = sent.filter(([, to]) => to.includes(peer)).map(([p]) => p);
      assert.deepEqual(texts(got), want.map((p) => p.message), `messages of ${peer.name}`);
      assert.equal(got.length, want.length, `${peer.name} received only messages`);
      got.forEach((d, k) => {
        assert.deepEqual(Object.keys(d).sort(), ["message", "message_type", "type"]);
        if (want[k].type) assert.equal(d.message_type, want[k].type);
        else assert.ok(typeof d.message_type === "string" && d.message_type.length > 0, "a default type");
      });
    }

    // message is required => 400; an unknown peer => 404; nobody receives anything
    h.assertSdkError(await h.captureError(sdk.activeRooms.sendMessage(room.id, { peerId: b.id })), 400);
    h.assertSdkError(
      await h.captureError(sdk.activeRooms.sendMessage(room.id, { peerId: UNKNOWN_PEER, message: "lost" })),
      404
    );
    assert.deepEqual(texts(await inbox(hms, room.id, b.id)), ["to-b", "to-guests", "to-all", "empty-role"]);
  });

  test("removePeer by peer_id with a reason: only that peer leaves, and is told why", async () => {
    const room = await freshRoom("ar-remove-id");
    const a = await join(hms, room.id, { role: "host" });
    const b = await join(hms, room.id, { role: "guest" });
    const c = await join(hms, room.id, { role: "guest" });
    const sessionId = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    const { sdk, answers } = recordingSdk();

    assert.equal(await sdk.activeRooms.removePeer(room.id, { peer_id: b.id, reason: "misbehaving" }), undefined);
    assert.deepEqual(answers[answers.length - 1].data, { message: "peer remove request submitted" });

    await eventually(async () => {
      assert.deepEqual(sortedIds(await hms.activeRooms.retrieveActivePeers(room.id)), [a.id, c.id].sort());
    });
    assert.deepEqual([...(await hms.activeRooms.retrieve(room.id)).session.peers].sort(), [a.id, c.id].sort());
    h.assertSdkError(await h.captureError(hms.activeRooms.retrievePeerDetails(room.id, b.id)), 404);
    assert.deepEqual(await inbox(hms, room.id, b.id), [{ type: "removed", reason: "misbehaving" }]);
    assert.deepEqual(await inbox(hms, room.id, a.id), []);
    assert.deepEqual(await inbox(hms, room.id, c.id), []);

    const s = await hms.sessions.retrieveById(sessionId);
    assertSession(s, room);
    assert.equal(s.active, true);
    assert.ok("left_at" in s.peers[b.id]);
    assert.ok(!("left_at" in s.peers[a.id]) && !("left_at" in s.peers[c.id]));

    // peer_id wins over role (the docs' example sends both)
    await sdk.activeRooms.removePeer(room.id, { peer_id: c.id, role: "host", reason: "" });
    await eventually(async () => {
      assert.deepEqual(sortedIds(await hms.activeRooms.retrieveActivePeers(room.id)), [a.id]);
    });
  });

  test("removePeer by role with a reason removes every peer of the role; the last removal closes the session", async () => {
    const room = await freshRoom("ar-remove-role");
    const a = await join(hms, room.id, { role: "host" });
    const b = await join(hms, room.id, { role: "guest" });
    const c = await join(hms, room.id, { role: "guest" });
    const sessionId = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    const { sdk, answers } = recordingSdk();

    await sdk.activeRooms.removePeer(room.id, { role: "guest", reason: "guests out" });
    assert.deepEqual(answers[answers.length - 1].data, { message: "peer remove request submitted" });
    await eventually(async () => {
      assert.deepEqual(sortedIds(await hms.activeRooms.retrieveActivePeers(room.id)), [a.id]);
    });
    for (const p of [b, c]) {
      assert.deepEqual(await inbox(hms, room.id, p.id), [{ type: "removed", reason: "guests out" }]);
    }
    assert.deepEqual(await inbox(hms, room.id, a.id), []);

    await sdk.activeRooms.removePeer(room.id, { role: "host" }); // no reason
    await eventually(async () => {
      h.assertSdkError(await h.captureError(hms.activeRooms.retrieve(room.id)), 404);
    });
    const got = await inbox(hms, room.id, a.id);
    assert.deepEqual(got.map((d) => d.type), ["removed"]);
    const s = await hms.sessions.retrieveById(sessionId);
    assertSession(s, room);
    assert.equal(s.active, false, "removing everyone closes the session");
    assert.deepEqual(sortedIds(s.peers), [a.id, b.id, c.id].sort());
    await assert.rejects(hms.sessions.retrieveActiveByRoom(room.id), /No active Session found/);
  });

  test("removePeer errors: neither peer_id nor role => 400; unknown peer => 404; nobody leaves", async () => {
    const room = await freshRoom("ar-remove-err");
    const a = await join(hms, room.id, { role: "host" });
    h.assertSdkError(await h.captureError(hms.activeRooms.removePeer(room.id, { reason: "who?" })), 400);
    h.assertSdkError(await h.captureError(hms.activeRooms.removePeer(room.id, { peer_id: UNKNOWN_PEER })), 404);
    assert.deepEqual(sortedIds(await hms.activeRooms.retrieveActivePeers(room.id)), [a.id]);
    assert.deepEqual(await inbox(hms, room.id, a.id), []);
    await leave(hms, room.id, a.id);
  });

  test("end without lock: everyone leaves with room_ended {reason, lock:false}; the room stays enabled", async () => {
    const room = await freshRoom("ar-end");
    const a = await join(hms, room.id, { role: "host" });
    const b = await join(hms, room.id, { role: "guest" });
    const s1 = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    const { sdk, answers } = recordingSdk();

    assert.equal(await sdk.activeRooms.end(room.id, { reason: "class over" }), undefined);
    assert.deepEqual(answers[answers.length - 1].data, { message: "session is ending" });
    await eventually(async () => {
      h.assertSdkError(await h.captureError(hms.activeRooms.retrieve(room.id)), 404);
    });
    for (const p of [a, b]) {
      assert.deepEqual(await inbox(hms, room.id, p.id), [{ type: "room_ended", reason: "class over", lock: false }]);
    }
    const closed = await hms.sessions.retrieveById(s1);
    assertSession(closed, room);
    assert.equal(closed.active, false);
    assert.deepEqual(sortedIds(closed.peers), [a.id, b.id].sort());
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, true, "no lock => still enabled");

    // a new join opens a new session; end() with no params at all (the SDK posts `{}`)
    const c = await join(hms, room.id, { role: "guest" });
    const s2 = (await hms.sessions.retrieveActiveByRoom(room.id)).id;
    assert.notEqual(s2, s1);
    await sdk.activeRooms.end(room.id);
    await eventually(async () => {
      assert.equal((await hms.sessions.retrieveById(s2)).active, false);
    });
    const ended = await inbox(hms, room.id, c.id);
    assert.equal(ended.length, 1);
    assert.equal(ended[0].type, "room_ended");
    assert.equal(ended[0].lock, false);
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, true);
  });

  test("end({lock:true}) disables the room (rooms.retrieveById: enabled false) until re-enabled", async () => {
    const room = await freshRoom("ar-lock");
    const a = await join(hms, room.id, { role: "host" });
    const s1 = (await hms.sessions.retrieveActiveByRoom(room.id)).id;

    await hms.activeRooms.end(room.id, { reason: "locked", lock: true });
    await eventually(async () => {
      h.assertSdkError(await h.captureError(hms.activeRooms.retrieve(room.id)), 404);
    });
    assert.deepEqual(await inbox(hms, room.id, a.id), [{ type: "room_ended", reason: "locked", lock: true }]);
    assert.equal((await hms.sessions.retrieveById(s1)).active, false);
    const locked = await hms.rooms.retrieveById(room.id);
    assert.equal(locked.enabled, false, "lock disables the room");

    const refused = await h.raw("POST", `/v2/simulate/rooms/${room.id}/peers`, { hms, body: { role: "host" } });
    h.assertEnvelope(refused, 403);
    assert.deepEqual(await h.collect(hms.sessions.list({ room_id: room.id, active: true })), []);

    await hms.rooms.enableOrDisable(room.id, true);
    const b = await join(hms, room.id, { role: "guest" });
    const s2 = await hms.sessions.retrieveActiveByRoom(room.id);
    assert.notEqual(s2.id, s1);
    assert.deepEqual(sortedIds(s2.peers), [b.id]);
    await hms.activeRooms.end(room.id, { lock: false });
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, true);
  });
});
