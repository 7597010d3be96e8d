"use strict";
// Room codes (spec 11-room-codes.md) through the SDK's `hms.roomCodes.*`:
// create, createForRole, list (QueryObjectIterator), enableOrDisable.

const { describe, test, before } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

describe("room codes", () => {
  let hms;

  before(() => {
    hms = h.makeSdk();
  });

  async function freshRoom(tag = "codes") {
    return hms.rooms.create({ name: h.uniqueName(tag) });
  }

  test("create: one enabled 3-4-3 code per role of the template", async () => {
    const room = await freshRoom();
    const before = await h.collect(hms.roomCodes.list(room.id));
    assert.deepEqual(before, [], "a room created via the API has no codes yet");

    const codes = await hms.roomCodes.create(room.id);
    assert.ok(Array.isArray(codes));
    assert.equal(codes.length, h.DEFAULT_ROLES.length, "one code per role");
    for (const c of codes) {
      h.assertRoomCodeShape(c);
      assert.equal(c.room_id, room.id);
      assert.equal(c.enabled, true);
      // nested items are not date-cast by the SDK: they are the raw strings
      assert.equal(typeof c.created_at, "string");
    }
    assert.deepEqual(codes.map((c) => c.role).sort(), h.DEFAULT_ROLES);
    assert.equal(new Set(codes.map((c) => c.code)).size, codes.length, "codes are distinct");

    // the raw answer is `{data: [...]}` with no limit/last
    const res = await h.raw("POST", `/v2/room-codes/room/${room.id}`, { hms, body: {} });
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body), ["data"]);
  });

  test("create twice is idempotent and returns all codes of the room (as list does)", async () => {
    const room = await freshRoom();
    const first = await hms.roomCodes.create(room.id);
    const second = await hms.roomCodes.create(room.id);
    assert.deepEqual([...second].sort(h.byCode), [...first].sort(h.byCode), "no new codes on repeat");
    const listed = await h.collect(hms.roomCodes.list(room.id));
    assert.deepEqual([...listed].sort(h.byCode), [...first].sort(h.byCode));
    assert.deepEqual(second, listed, "create returns the codes exactly as list does");
  });

  test("createForRole: a new enabled code on every call", async () => {
    const room = await freshRoom();
    const all = await hms.roomCodes.create(room.id);
    const hostCode = all.find((c) => c.role === "host");

    const a = await hms.roomCodes.createForRole(room.id, "host");
    const b = await hms.roomCodes.createForRole(room.id, "host");
    for (const c of [a, b]) {
      h.assertRoomCodeShape(c);
      assert.equal(c.room_id, room.id);
      assert.equal(c.role, "host");
      assert.equal(c.enabled, true);
      assert.ok(c.created_at instanceof Date, "top-level *_at cast to Date by the SDK");
    }
    assert.notEqual(a.code, b.code);
    assert.notEqual(a.code, hostCode.code);
    assert.notEqual(b.code, hostCode.code);

    const g = await hms.roomCodes.createForRole(room.id, "guest");
    assert.equal(g.role, "guest");

    // create-all now returns all 5 codes and adds none (every role has an enabled code)
    const again = await hms.roomCodes.create(room.id);
    assert.equal(again.length, 5);
    const codes = new Set(again.map((c) => c.code));
    for (const c of [a, b, g, ...all]) assert.ok(codes.has(c.code), `${c.code} in create-all answer`);

    const listed = await h.collect(hms.roomCodes.list(room.id));
    assert.equal(listed.length, 5);
    const fromList = listed.find((c) => c.code === a.code);
    assert.deepEqual(h.normDates(fromList), h.normDates(a), "list item equals createForRole answer");
  });

  test("createForRole works on a room that has no codes yet", async () => {
    const room = await freshRoom();
    const c = await hms.roomCodes.createForRole(room.id, "guest");
    assert.equal(c.role, "guest");
    const listed = await h.collect(hms.roomCodes.list(room.id));
    assert.deepEqual(listed.map((x) => x.code), [c.code]);
  });

  test("list: role and enabled filters through the iterator", async () => {
    const room = await freshRoom();
    await hms.roomCodes.create(room.id);
    const extraHost = await hms.roomCodes.createForRole(room.id, "host");
    await hms.roomCodes.createForRole(room.id, "host");
    const off = await hms.roomCodes.enableOrDisable(extraHost.code, false);
    assert.equal(off.enabled, false);

    const all = await h.collect(hms.roomCodes.list(room.id));
    assert.equal(all.length, 4);
    for (const c of all) h.assertRoomCodeShape(c);

    const hosts = await h.collect(hms.roomCodes.list(room.id, { role: "host" }));
    assert.equal(hosts.length, 3);
    for (const c of hosts) assert.equal(c.role, "host");

    const guests = await h.collect(hms.roomCodes.list(room.id, { role: "guest" }));
    assert.equal(guests.length, 1);
    assert.equal(guests[0].role, "guest");

    const disabled = await h.collect(hms.roomCodes.list(room.id, { enabled: false }));
    assert.deepEqual(disabled.map((c) => c.code), [extraHost.code]);
    assert.equal(disabled[0].enabled, false);

    const enabled = await h.collect(hms.roomCodes.list(room.id, { enabled: true }));
    assert.equal(enabled.length, 3);
    for (const c of enabled) assert.equal(c.enabled, true);
    assert.ok(!enabled.some((c) => c.code === extraHost.code));

    const enabledHosts = await h.collect(hms.roomCodes.list(room.id, { role: "host", enabled: true }));
    assert.equal(enabledHosts.length, 2);
    for (const c of enabledHosts) {
      assert.equal(c.role, "host");
      assert.equal(c.enabled, true);
    }
    const disabledGuests = await h.collect(hms.roomCodes.list(room.id, { role: "guest", enabled: false }));
    assert.deepEqual(disabledGuests, []);
  });

  test("list: more codes than one page of limit 10, no duplicates, nothing missing", async () => {
    const room = await freshRoom();
    const made = (await hms.roomCodes.create(room.id)).map((c) => c.code);
    for (let i = 0; i < 12; i++) made.push((await hms.roomCodes.createForRole(room.id, "guest")).code);
    assert.equal(made.length, 14);

    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/room-codes");
    const listed = await h.collect(sdk.roomCodes.list(room.id, { limit: 10 }));
    const codes = listed.map((c) => c.code);
    assert.equal(new Set(codes).size, codes.length, "iterator yielded a code twice");
    assert.deepEqual([...codes].sort(), [...made].sort());
    for (const p of pages) {
      assert.ok(Array.isArray(p.data.data) || p.data.data === null);
      assert.equal(typeof p.data.limit, "number");
      assert.equal(typeof p.data.last, "string", "`last` is a string (\"\" or a cursor)");
    }

    const guests = await h.collect(h.makeSdk().roomCodes.list(room.id, { role: "guest", limit: 10 }));
    assert.equal(guests.length, 13);
    assert.equal(new Set(guests.map((c) => c.code)).size, 13);
  });

  test("enableOrDisable: disable and re-enable a code", async () => {
    const room = await freshRoom();
    const [c] = await hms.roomCodes.create(room.id);

    const off = await hms.roomCodes.enableOrDisable(c.code, false);
    h.assertRoomCodeShape(off);
    assert.equal(off.code, c.code);
    assert.equal(off.room_id, room.id);
    assert.equal(off.role, c.role);
    assert.equal(off.enabled, false);
    assert.equal(off.created_at.getTime(), new Date(c.created_at).getTime(), "created_at unchanged");
    assert.ok(off.updated_at.getTime() >= new Date(c.updated_at).getTime());

    const listed = await h.collect(hms.roomCodes.list(room.id, { role: c.role }));
    assert.equal(listed.length, 1);
    assert.equal(listed[0].enabled, false);

    const on = await hms.roomCodes.enableOrDisable(c.code, true);
    assert.equal(on.code, c.code);
    assert.equal(on.enabled, true);
    assert.equal((await h.collect(hms.roomCodes.list(room.id, { role: c.role })))[0].enabled, true);

    const again = await hms.roomCodes.enableOrDisable(c.code, true);
    assert.equal(again.enabled, true, "enabling an enabled code is fine");
  });

  test("create-all issues a new code for a role whose codes are all disabled", async () => {
    const room = await freshRoom();
    const codes = await hms.roomCodes.create(room.id);
    const host = codes.find((c) => c.role === "host");
    await hms.roomCodes.enableOrDisable(host.code, false);

    const after = await hms.roomCodes.create(room.id);
    assert.equal(after.length, 3, "old disabled host code + new host code + guest code");
    const hosts = after.filter((c) => c.role === "host");
    assert.equal(hosts.length, 2);
    const fresh = hosts.find((c) => c.code !== host.code);
    assert.equal(fresh.enabled, true);
    assert.equal(hosts.find((c) => c.code === host.code).enabled, false);
    // and the guest role got nothing new
    assert.equal(after.filter((c) => c.role === "guest").length, 1);
  });

  describe("errors", () => {
    test("create / createForRole / list on an unknown room => 404 Room not found", async () => {
      for (const call of [
        () => hms.roomCodes.create(h.UNKNOWN_ID),
        () => hms.roomCodes.createForRole(h.UNKNOWN_ID, "host"),
        () => h.collect(hms.roomCodes.list(h.UNKNOWN_ID)),
      ]) {
        const err = await h.captureError(call());
        h.assertSdkError(err, 404);
      }
      const res = await h.raw("POST", `/v2/room-codes/room/${h.UNKNOWN_ID}`, { hms, body: {} });
      h.assertEnvelope(res, 404, "Room not found");
      const err = await h.captureError(hms.roomCodes.create(h.UNKNOWN_ID));
      assert.equal(err.message, res.body.message);
    });

    test("create / createForRole / list on a disabled room => 403 Room is disabled", async () => {
      const room = await freshRoom("codes-disabled");
      await hms.rooms.enableOrDisable(room.id, false);

      const e1 = await h.captureError(hms.roomCodes.create(room.id));
      h.assertSdkError(e1, 403, "Room is disabled");
      assert.equal(e1.name, "Forbidden");
      const e2 = await h.captureError(hms.roomCodes.createForRole(room.id, "host"));
      h.assertSdkError(e2, 403, "Room is disabled");
      const e3 = await h.captureError(h.collect(hms.roomCodes.list(room.id)));
      h.assertSdkError(e3, 403, "Room is disabled");

      const res = await h.raw("POST", `/v2/room-codes/room/${room.id}`, { hms, body: {} });
      h.assertEnvelope(res, 403, "Room is disabled");

      // re-enabled: works again
      await hms.rooms.enableOrDisable(room.id, true);
      const codes = await hms.roomCodes.create(room.id);
      assert.equal(codes.length, h.DEFAULT_ROLES.length);
    });

    test("createForRole with a role not in the template => 404 Role not found", async () => {
      const room = await freshRoom();
      const err = await h.captureError(hms.roomCodes.createForRole(room.id, "no-such-role"));
      h.assertSdkError(err, 404, "Role not found");
      const res = await h.raw("POST", `/v2/room-codes/room/${room.id}/role/no-such-role`, { hms, body: {} });
      h.assertEnvelope(res, 404, "Role not found");
      assert.deepEqual(await h.collect(hms.roomCodes.list(room.id)), [], "no code was created");
    });

    test("list with a role filter not in the template => 404 Role not found", async () => {
      const room = await freshRoom();
      await hms.roomCodes.create(room.id);
      const err = await h.captureError(h.collect(hms.roomCodes.list(room.id, { role: "no-such-role" })));
      h.assertSdkError(err, 404, "Role not found");
    });

    test("enableOrDisable of an unknown code => 404 Code not found", async () => {
      for (const enabled of [false, true]) {
        const err = await h.captureError(hms.roomCodes.enableOrDisable("zzz-zzzz-zzz", enabled));
        h.assertSdkError(err, 404, "Code not found");
      }
      const res = await h.raw("POST", "/v2/room-codes/code", {
        hms,
        body: { code: "zzz-zzzz-zzz", enabled: false },
      });
      h.assertEnvelope(res, 404, "Code not found");
    });

    test("update body with an extra field, or a non-boolean enabled => 400 Invalid body parameter", async () => {
      const room = await freshRoom();
      const [c] = await hms.roomCodes.create(room.id);
      const extra = await h.raw("POST", "/v2/room-codes/code", {
        hms,
        body: { code: c.code, enabled: false, role: "guest" },
      });
      h.assertEnvelope(extra, 400, "Invalid body parameter");
      const notBool = await h.raw("POST", "/v2/room-codes/code", {
        hms,
        body: { code: c.code, enabled: "false" },
      });
      h.assertEnvelope(notBool, 400, "Invalid body parameter");
      const listed = await h.collect(hms.roomCodes.list(room.id, { role: c.role }));
      assert.equal(listed[0].enabled, true, "a refused update changes nothing");
    });
  });
});
