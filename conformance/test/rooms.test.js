"use strict";
// Rooms (spec 10-rooms.md) through the SDK's `hms.rooms.*`:
// create, retrieveById, retrieveByName, list (QueryObjectIterator), update, enableOrDisable.

const { describe, test, before } = require("node:test");
const assert = require("node:assert/strict");
const h = require("../lib/helpers");

describe("rooms", () => {
  let hms;
  let defaultTemplateId;

  before(async () => {
    hms = h.makeSdk();
    const r = await hms.rooms.create({});
    defaultTemplateId = r.template_id;
  });

  test("create({}) generates a UUID v4 name and uses the default template", async () => {
    const room = await hms.rooms.create({});
    h.assertRoomShape(room);
    assert.match(room.name, h.UUID_V4_RE, "generated name is a UUID v4 string");
    assert.equal(room.enabled, true);
    assert.equal(room.description, "");
    assert.equal(room.template_id, defaultTemplateId);
    assert.equal(room.template, h.DEFAULT_TEMPLATE_NAME);
    // no recording_info in the request => the room follows its template
    assert.equal(room.recording_source_template, true);
    assert.equal(room.large_room, false);
    // SDK casts top-level *_at strings to Date
    assert.ok(room.created_at instanceof Date);
    assert.ok(room.updated_at instanceof Date);
    assert.ok(Math.abs(room.created_at.getTime() - Date.now()) < 5 * 60 * 1000, "created_at is now");

    const other = await hms.rooms.create({});
    assert.notEqual(other.id, room.id, "create({}) twice makes two rooms");
    assert.notEqual(other.name, room.name);

    // SDK sends no body-less POST: create() without argument sends `{}` too
    const third = await hms.rooms.create();
    assert.notEqual(third.id, room.id);
    assert.match(third.name, h.UUID_V4_RE);
  });

  test("create with name, description, template_id, region, recording_info", async () => {
    const name = h.uniqueName("full");
    const room = await hms.rooms.create({
      name,
      description: "a conformance room",
      template_id: defaultTemplateId,
      region: "in",
      recording_info: { enabled: false },
    });
    h.assertRoomShape(room);
    assert.equal(room.name, name);
    assert.equal(room.description, "a conformance room");
    assert.equal(room.template_id, defaultTemplateId);
    assert.equal(room.template, h.DEFAULT_TEMPLATE_NAME);
    assert.equal(room.region, "in");
    assert.deepEqual(room.recording_info, { enabled: false });
    assert.equal(room.recording_source_template, false, "own recording_info => not from template");
    assert.equal(room.enabled, true);

    const got = await hms.rooms.retrieveById(room.id);
    assert.deepEqual(got, room, "retrieveById returns what create returned");
  });

  test("create with every region value", async () => {
    for (const region of ["us", "eu", "in", "auto"]) {
      const room = await hms.rooms.create({ name: h.uniqueName(`reg-${region}`), region });
      assert.equal(room.region, region);
    }
  });

  test("create with recording_info.upload_info; credentials' secret is never echoed", async () => {
    const recording_info = {
      enabled: true,
      upload_info: {
        type: "s3",
        location: "my-bucket",
        prefix: "rec/",
        options: { region: "us-east-1" },
        credentials: { key: "AKIAEXAMPLE", secret: "super-secret-value" },
      },
    };
    const room = await hms.rooms.create({ name: h.uniqueName("rec"), recording_info });
    h.assertRoomShape(room);
    assert.equal(room.recording_source_template, false);
    assert.equal(room.recording_info.enabled, true);
    const up = room.recording_info.upload_info;
    assert.equal(up.type, "s3");
    assert.equal(up.location, "my-bucket");
    assert.equal(up.prefix, "rec/");
    assert.deepEqual(up.options, { region: "us-east-1" });
    // 10-rooms.md §1.1 [proposal] never return secrets
    assert.ok(!JSON.stringify(room).includes("super-secret-value"), "secret must not be returned");
    const got = await hms.rooms.retrieveById(room.id);
    assert.ok(!JSON.stringify(got).includes("super-secret-value"), "secret must not be returned");
    assert.deepEqual(got.recording_info, room.recording_info);
  });

  test("create with large_room, size, max_duration_seconds, webhook echoes them", async () => {
    const webhook = { url: "http://127.0.0.1:9/hook", headers: { "x-conformance": "yes" } };
    const room = await hms.rooms.create({
      name: h.uniqueName("opts"),
      large_room: true,
      size: 5000,
      max_duration_seconds: 3600,
      webhook,
    });
    h.assertRoomShape(room);
    assert.equal(room.large_room, true);
    assert.equal(room.size, 5000);
    assert.equal(room.max_duration_seconds, 3600);
    assert.deepEqual(room.webhook, webhook);
    const got = await hms.rooms.retrieveById(room.id);
    assert.deepEqual(got, room);
  });

  test("create with an existing name (case-insensitive) updates and returns the same room", async () => {
    const name = h.uniqueName("Upsert");
    const first = await hms.rooms.create({ name, description: "first" });
    assert.equal(first.name, name);
    assert.equal(first.description, "first");

    const again = await hms.rooms.create({ name, description: "second" });
    assert.equal(again.id, first.id, "same name => same room id");
    assert.equal(again.description, "second", "supplied fields are applied to the existing room");

    const upper = await hms.rooms.create({ name: name.toUpperCase(), description: "third" });
    assert.equal(upper.id, first.id, "name match is case-insensitive");
    assert.equal(upper.description, "third");

    const lower = await hms.rooms.create({ name: name.toLowerCase() });
    assert.equal(lower.id, first.id);

    const got = await hms.rooms.retrieveById(first.id);
    assert.equal(got.description, "third");
    assert.equal(got.created_at.getTime(), first.created_at.getTime(), "created_at unchanged");

    // still exactly one room with that name
    const res = await h.raw("GET", `/v2/rooms?name=${name}`, { hms });
    assert.equal(res.status, 200);
    assert.equal(res.body.data.length, 1);
    assert.equal(res.body.data[0].id, first.id);
  });

  test("retrieveById of every created field, twice, is stable", async () => {
    const room = await hms.rooms.create({ name: h.uniqueName("get"), description: "d" });
    const a = await hms.rooms.retrieveById(room.id);
    const b = await hms.rooms.retrieveById(room.id);
    assert.deepEqual(a, room);
    assert.deepEqual(b, room);
  });

  test("retrieveByName: exact, case-insensitive, names with : . _ -, unknown name", async () => {
    const name = h.uniqueName("ByName") + ":x.y_z-w";
    const room = await hms.rooms.create({ name, description: "by name" });
    assert.equal(room.name, name);

    const got = await hms.rooms.retrieveByName(name);
    assert.equal(got.id, room.id);
    assert.equal(got.name, name);
    assert.equal(got.description, "by name");
    // list items are not date-cast by the SDK: compare by value
    assert.deepEqual(h.normDates(got), h.normDates(room));

    // 10-rooms.md §4 [proposal] whole-name, case-insensitive match
    const upper = await hms.rooms.retrieveByName(name.toUpperCase());
    assert.equal(upper.id, room.id);

    // whole-name match: a prefix is not a match
    const missingPrefix = h.uniqueName("nosuch");
    const err = await h.captureError(hms.rooms.retrieveByName(missingPrefix));
    assert.ok(err instanceof Error, "SDK throws its own Error when data is empty");
    assert.equal(err.message, `No Room found with passed in name - ${missingPrefix}`);

    const prefixErr = await h.captureError(hms.rooms.retrieveByName(name.slice(0, 12)));
    assert.ok(prefixErr instanceof Error);
    assert.match(prefixErr.message, /^No Room found with passed in name/);
  });

  test("list: the SDK iterator walks >1 page with limit 10, no duplicates, nothing missing", async () => {
    const prefix = h.uniqueName("page");
    const created = [];
    for (let i = 0; i < 27; i++) {
      const r = await hms.rooms.create({ name: `${prefix}-${String(i).padStart(2, "0")}` });
      created.push(r.id);
    }
    assert.equal(new Set(created).size, 27);

    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/rooms");
    const all = await h.collect(sdk.rooms.list({ limit: 10 }));

    const ids = all.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, "iterator yielded a room twice (start must be exclusive)");
    for (const id of created) assert.ok(ids.includes(id), `room ${id} missing from the iteration`);
    assert.ok(pages.length >= 3, `expected >= 3 pages for >= 27 rooms, got ${pages.length}`);

    for (const [i, p] of pages.entries()) {
      assert.equal(p.data.limit, 10, `page ${i}: limit echoes the applied page size`);
      assert.ok(Array.isArray(p.data.data) || p.data.data === null, `page ${i}: data array`);
      const data = p.data.data || [];
      assert.ok(data.length <= 10, `page ${i}: at most limit items`);
      if (data.length > 0) {
        assert.equal(p.data.last, data[data.length - 1].id, `page ${i}: last = id of last item`);
      }
      for (const r of data) {
        h.assertRoomShape(r);
        assert.equal(r.enabled, true, "default list has enabled rooms only");
      }
      if (i > 0) assert.match(p.query, /[?&]start=/, "follow-up pages carry start=<last>");
    }
    // every page but the one that ended the walk was full
    for (const p of pages.slice(0, -1)) assert.equal((p.data.data || []).length, 10);

    // 00-overview.md §7.2 [proposal] newest first: our rooms come in reverse creation order
    const ours = ids.filter((id) => created.includes(id));
    assert.deepEqual(ours, [...created].reverse(), "rooms listed newest first");

    // list items carry the same fields as retrieveById
    const one = all.find((r) => r.id === created[5]);
    assert.deepEqual(h.normDates(one), h.normDates(await hms.rooms.retrieveById(created[5])));
  });

  test("list without filters (default page size 10) also yields every room once", async () => {
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await hms.rooms.create({ name: h.uniqueName("dflt") })).id);
    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/rooms");
    const all = await h.collect(sdk.rooms.list());
    const ids = all.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of mine) assert.ok(ids.includes(id));
    for (const p of pages) assert.equal(p.data.limit, 10, "default limit is 10");
  });

  test("list with a larger limit returns pages of that size", async () => {
    const sdk = h.makeSdk();
    const pages = h.recordPages(sdk, "/rooms");
    const all = await h.collect(sdk.rooms.list({ limit: 25 }));
    assert.ok(all.length >= 27);
    assert.equal(pages[0].data.limit, 25);
    assert.equal(pages[0].data.data.length, 25);
  });

  test("enableOrDisable both ways, and list({enabled:false})", async () => {
    const room = await hms.rooms.create({ name: h.uniqueName("toggle") });
    assert.equal(room.enabled, true);

    const off = await hms.rooms.enableOrDisable(room.id, false);
    h.assertRoomShape(off);
    assert.equal(off.id, room.id);
    assert.equal(off.enabled, false);
    assert.equal(off.name, room.name);
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, false);

    const disabled = await h.collect(hms.rooms.list({ enabled: false, limit: 100 }));
    assert.ok(disabled.some((r) => r.id === room.id), "disabled room listed with enabled:false");
    for (const r of disabled) assert.equal(r.enabled, false, "enabled:false lists only disabled rooms");

    // docs: `enabled` defaults to true
    const enabledOnly = await h.collect(hms.rooms.list({ limit: 100 }));
    assert.ok(!enabledOnly.some((r) => r.id === room.id), "default list excludes disabled rooms");
    const explicitTrue = await h.collect(hms.rooms.list({ enabled: true, limit: 100 }));
    assert.ok(!explicitTrue.some((r) => r.id === room.id));
    for (const r of explicitTrue) assert.equal(r.enabled, true);

    const on = await hms.rooms.enableOrDisable(room.id, true);
    assert.equal(on.id, room.id);
    assert.equal(on.enabled, true);
    assert.equal((await hms.rooms.retrieveById(room.id)).enabled, true);
    const after = await h.collect(hms.rooms.list({ enabled: false, limit: 100 }));
    assert.ok(!after.some((r) => r.id === room.id), "re-enabled room left the disabled list");

    // idempotent
    const on2 = await hms.rooms.enableOrDisable(room.id, true);
    assert.equal(on2.enabled, true);
  });

  test("update: name, description, region, recording_info", async () => {
    const name = h.uniqueName("upd");
    const room = await hms.rooms.create({ name, description: "before", region: "us" });
    const newName = h.uniqueName("upd-renamed");
    const updated = await hms.rooms.update(room.id, {
      name: newName,
      description: "after",
      region: "eu",
      recording_info: { enabled: true },
    });
    h.assertRoomShape(updated);
    assert.equal(updated.id, room.id);
    assert.equal(updated.name, newName);
    assert.equal(updated.description, "after");
    assert.equal(updated.region, "eu");
    assert.deepEqual(updated.recording_info, { enabled: true });
    assert.equal(updated.recording_source_template, false);
    assert.equal(updated.enabled, true);
    assert.equal(updated.template_id, room.template_id);
    assert.equal(updated.created_at.getTime(), room.created_at.getTime());
    assert.ok(updated.updated_at.getTime() >= room.updated_at.getTime());

    assert.deepEqual(await hms.rooms.retrieveById(room.id), updated);
    assert.equal((await hms.rooms.retrieveByName(newName)).id, room.id);
    const err = await h.captureError(hms.rooms.retrieveByName(name));
    assert.match(err.message, /^No Room found/, "old name no longer resolves");

    // partial update keeps the other fields
    const partial = await hms.rooms.update(room.id, { description: "only this" });
    assert.equal(partial.name, newName);
    assert.equal(partial.region, "eu");
    assert.deepEqual(partial.recording_info, { enabled: true });
    assert.equal(partial.description, "only this");

    // template_id may be passed on update (10-rooms.md §5 [proposal])
    const same = await hms.rooms.update(room.id, { template_id: room.template_id });
    assert.equal(same.template_id, room.template_id);
  });

  test("update: renaming onto another room's name is refused with 400", async () => {
    const a = await hms.rooms.create({ name: h.uniqueName("clashA") });
    const b = await hms.rooms.create({ name: h.uniqueName("clashB") });
    const err = await h.captureError(hms.rooms.update(b.id, { name: a.name.toUpperCase() }));
    h.assertSdkError(err, 400);
    assert.equal((await hms.rooms.retrieveById(b.id)).name, b.name, "rename not applied");
  });

  describe("errors", () => {
    test("retrieveById / update / enableOrDisable of an unknown room id => 404", async () => {
      for (const call of [
        () => hms.rooms.retrieveById(h.UNKNOWN_ID),
        () => hms.rooms.update(h.UNKNOWN_ID, { description: "x" }),
        () => hms.rooms.enableOrDisable(h.UNKNOWN_ID, false),
      ]) {
        const err = await h.captureError(call());
        h.assertSdkError(err, 404, /not found/i);
        assert.equal(err.name, "Not Found", "SDK error name is the HTTP status text");
      }
      const res = await h.raw("GET", `/v2/rooms/${h.UNKNOWN_ID}`, { hms });
      h.assertEnvelope(res, 404);
      const err = await h.captureError(hms.rooms.retrieveById(h.UNKNOWN_ID));
      assert.equal(err.message, res.body.message, "SDK surfaces the envelope's message");
    });

    // Each case: SDK exception status/message, and the raw envelope carrying the documented text.
    const cases = [
      ["unknown template_id", { template_id: h.UNKNOWN_ID }, "Error: template not found"],
      ["non-hex template_id", { template_id: "no-such-template" }, "Error: template not found"],
      ["unsupported region", { region: "mars" }, "Error: region not supported"],
      ["legacy `template` field", { template: "conferencing" }, "Invalid body param: template. Use template_id"],
      [
        "max_duration_seconds < 120",
        { max_duration_seconds: 119 },
        "Invalid body param: max_duration_seconds less than 120 seconds",
      ],
      [
        "max_duration_seconds > 43200",
        { max_duration_seconds: 43201 },
        "Invalid body param: max_duration_seconds greater than 43200 seconds",
      ],
      [
        "size > 20000",
        { size: 20001, large_room: true },
        "Invalid body param: room size greater than 20000",
      ],
      [
        "size > 2500 without large_room",
        { size: 2501 },
        "Invalid body param: room size greater than 2500, set large_room flag as true",
      ],
      ["name with forbidden characters", { name: "bad name!" }, undefined],
    ];
    for (const [label, body, text] of cases) {
      test(`create with ${label} => 400`, async () => {
        const err = await h.captureError(hms.rooms.create(body));
        h.assertSdkError(err, 400);
        assert.equal(err.name, "Bad Request");
        const res = await h.raw("POST", "/v2/rooms", { hms, body });
        h.assertEnvelope(res, 400, text);
        assert.equal(err.message, res.body.message, "SDK message is the envelope's message");
        if (label.startsWith("size")) assert.equal(res.body.message, "Invalid body param");
      });
    }

    test("max_duration_seconds at the bounds 120 and 43200 is accepted", async () => {
      const a = await hms.rooms.create({ name: h.uniqueName("dur"), max_duration_seconds: 120 });
      assert.equal(a.max_duration_seconds, 120);
      const b = await hms.rooms.create({ name: h.uniqueName("dur"), max_duration_seconds: 43200 });
      assert.equal(b.max_duration_seconds, 43200);
    });

    test("create with an unknown template_id creates nothing", async () => {
      const name = h.uniqueName("notpl");
      await h.captureError(hms.rooms.create({ name, template_id: h.UNKNOWN_ID }));
      const err = await h.captureError(hms.rooms.retrieveByName(name));
      assert.match(err.message, /^No Room found/);
    });
  });
});
