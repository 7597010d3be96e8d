"use strict";
// Shared helpers for the conformance suite. Not a test file (no `.test.js` suffix).
//
// Every test drives the server through the OFFICIAL Node server SDK
// (`@100mslive/server-sdk` 0.3.0). Raw `fetch` is only used where the SDK cannot
// express the request (the room-code exchange, hand-made tokens, bodies the SDK never
// sends) or to look at the full error envelope behind an SDK exception.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const HMS = require("@100mslive/server-sdk");

const BASE_URL = (process.env.HMS_BASE_URL || "").replace(/\/+$/, "");
const ACCESS_KEY = process.env.HMS_ACCESS_KEY;
const SECRET = process.env.HMS_SECRET;

if (!BASE_URL || !ACCESS_KEY || !SECRET) {
  throw new Error(
    "HMS_BASE_URL, HMS_ACCESS_KEY and HMS_SECRET must be set (use conformance/run.sh)"
  );
}

const API_URL = `${BASE_URL}/v2`;

// The default template every new workspace gets (see the brief / server docs).
const DEFAULT_TEMPLATE_NAME = "conferencing";
const DEFAULT_ROLES = ["guest", "host"]; // sorted

const ROOM_ID_RE = /^[0-9a-f]{24}$/;
const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ROOM_CODE_RE = /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/;
// RFC 3339 UTC with `Z`, 0-9 fractional digits (00-overview.md §2).
const RFC3339_UTC_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const UNKNOWN_ID = "0000000000000000deadbeef";

/**
 * An SDK instance pointed at the server under test. The SDK 0.3.0 has no public
 * base-URL option; its (TS-private) axios instance lives at `hms.api.axios`
 * (`APIService.axios`, created with `baseURL: https://api.100ms.live/v2`).
 */
function makeSdk(accessKey = ACCESS_KEY, secret = SECRET) {
  const hms = new HMS.SDK(accessKey, secret);
  assert.ok(hms.api && hms.api["axios"], "SDK layout changed: hms.api.axios missing");
  hms.api["axios"].defaults.baseURL = API_URL;
  hms.setLogLevel(process.env.HMS_SDK_LOG_LEVEL || "silent");
  return hms;
}

/** Awaits `promise`, which must reject, and returns what it rejected with. */
async function captureError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail, but it succeeded");
}

/**
 * Asserts an SDK exception (`ErrorFactory.MakeError(status, statusText, data.message)`:
 * a plain `{code, name, message}` object) for an HTTP error answer.
 */
function assertSdkError(err, status, message) {
  assert.ok(err && typeof err === "object", `expected an SDK error object, got ${err}`);
  assert.equal(err.code, status, `status: ${JSON.stringify(err)}`);
  assert.equal(typeof err.name, "string");
  // "An unknown Error occurred!" is what the SDK says when the body has no `message`.
  assert.notEqual(
    err.message,
    "An unknown Error occurred!",
    "server answered without a JSON error envelope carrying `message`"
  );
  if (message instanceof RegExp) assert.match(err.message, message);
  else if (message !== undefined) assert.equal(err.message, message);
}

/**
 * Asserts an error envelope `{code, message, details?}` (00-overview.md §6.1) whose
 * `code` equals the HTTP status. When `text` is given it must be the `message`
 * or one of the `details` (the spec allows the documented text in either place).
 */
function assertEnvelope(res, status, text) {
  assert.equal(res.status, status, `HTTP status; body: ${JSON.stringify(res.body)}`);
  assert.ok(res.body && typeof res.body === "object", `JSON body expected, got ${res.text}`);
  assert.equal(res.body.code, status, "envelope `code` must equal the HTTP status");
  assert.equal(typeof res.body.message, "string");
  assert.ok(res.body.message.length > 0);
  if (res.body.details !== undefined) {
    assert.ok(Array.isArray(res.body.details), "`details` must be an array");
    for (const d of res.body.details) assert.equal(typeof d, "string");
  }
  if (text !== undefined) {
    const all = [res.body.message, ...(res.body.details || [])];
    assert.ok(
      all.includes(text),
      `expected "${text}" as message or in details, got ${JSON.stringify(res.body)}`
    );
  }
}

/**
 * Raw HTTP call against the server. `token`: a string, `null` for no Authorization
 * header, or undefined to use a fresh management token from `hms`.
 */
async function raw(method, path, { body, token, hms, headers = {} } = {}) {
  const h = { ...headers };
  if (token === undefined) {
    const sdk = hms || makeSdk();
    token = (await sdk.auth.getManagementToken()).token;
  }
  if (token !== null) h["Authorization"] = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    if (!Object.keys(h).some((k) => k.toLowerCase() === "content-type")) {
      h["Content-Type"] = "application/json";
    }
  }
  const url = path.startsWith("http") ? path : `${BASE_URL}${path}`;
  const res = await fetch(url, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, body: json };
}

/** Drains an SDK `QueryObjectIterator` into an array. */
async function collect(iterable) {
  const out = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * Records every successful page the SDK receives for `pathPrefix`, so tests can look
 * at `limit`/`last`/`data` of each page the iterator fetched.
 */
function recordPages(hms, pathPrefix) {
  const pages = [];
  hms.api["axios"].interceptors.response.use((resp) => {
    const url = resp.config.url || "";
    if (url.startsWith(pathPrefix)) {
      pages.push({ url, query: resp.request && resp.request.path, data: JSON.parse(JSON.stringify(resp.data)) });
    }
    return resp;
  });
  return pages;
}

let counter = 0;
/** A name unique to this run: chars allowed in room names only (a-z A-Z 0-9 . - : _). */
function uniqueName(tag) {
  counter += 1;
  const rnd = crypto.randomBytes(4).toString("hex");
  return `conf-${tag}-${process.pid}-${Date.now().toString(36)}-${rnd}-${counter}`;
}

// ---------------------------------------------------------------- JWT (HS256, crypto)

function b64urlDecode(s) {
  return Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
}
function b64urlEncode(buf) {
  return Buffer.from(buf).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Splits and decodes a JWT without verifying it. */
function decodeJwt(token) {
  assert.equal(typeof token, "string");
  const parts = token.split(".");
  assert.equal(parts.length, 3, "a JWT has exactly 3 dot-separated parts");
  return {
    header: JSON.parse(b64urlDecode(parts[0]).toString("utf8")),
    payload: JSON.parse(b64urlDecode(parts[1]).toString("utf8")),
    parts,
  };
}

/** Verifies an HS256 JWT with `secret` (constant-time) and returns header+payload. */
function verifyHs256(token, secret = SECRET) {
  const decoded = decodeJwt(token);
  assert.equal(decoded.header.alg, "HS256", "JOSE alg must be HS256");
  const [h, p, sig] = decoded.parts;
  const expected = crypto.createHmac("sha256", secret).update(`${h}.${p}`).digest();
  const got = b64urlDecode(sig);
  assert.ok(
    got.length === expected.length && crypto.timingSafeEqual(got, expected),
    "HS256 signature does not verify with the workspace secret"
  );
  return decoded;
}

/** Signs an HS256 JWT by hand (for tokens the SDK would never produce). */
function signHs256(payload, secret = SECRET) {
  const h = b64urlEncode(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const p = b64urlEncode(JSON.stringify(payload));
  const sig = b64urlEncode(crypto.createHmac("sha256", secret).update(`${h}.${p}`).digest());
  return `${h}.${p}.${sig}`;
}

/** A management-token payload like the SDK's, with overrides. */
function managementClaims(overrides = {}) {
  const iat = Math.floor(Date.now() / 1000) - 10;
  return {
    access_key: ACCESS_KEY,
    type: "management",
    version: 2,
    iat,
    nbf: iat,
    exp: iat + 24 * 3600,
    jti: crypto.randomUUID(),
    ...overrides,
  };
}

/** Fields of a room the server must always send (10-rooms.md §1, core set). */
function assertRoomShape(room) {
  assert.match(room.id, ROOM_ID_RE, "room id is 24 lowercase hex");
  assert.equal(typeof room.name, "string");
  assert.equal(typeof room.enabled, "boolean");
  assert.equal(typeof room.description, "string");
  assert.equal(typeof room.customer_id, "string");
  assert.ok(room.customer_id.length > 0, "customer_id set");
  assert.equal(room.customer, room.customer_id, "deprecated `customer` duplicates customer_id");
  assert.equal(typeof room.app_id, "string");
  assert.ok(room.app_id.length > 0, "app_id set");
  assert.equal(typeof room.recording_source_template, "boolean");
  assert.ok("recording_info" in room, "recording_info key present (object or null)");
  assert.match(room.template_id, ROOM_ID_RE);
  assert.equal(typeof room.template, "string");
  assert.ok(["in", "us", "eu", "auto"].includes(room.region), `region ${room.region}`);
  assert.equal(typeof room.large_room, "boolean");
  for (const k of ["created_at", "updated_at"]) {
    // The SDK casts top-level *_at to Date; nested ones (list items) stay strings.
    const v = room[k];
    if (v instanceof Date) assert.ok(!Number.isNaN(v.getTime()), `${k} valid date`);
    else assert.match(v, RFC3339_UTC_RE, `${k} RFC 3339 UTC`);
  }
}

function assertRoomCodeShape(rc) {
  assert.match(rc.code, ROOM_CODE_RE, `room code format 3-4-3: ${rc.code}`);
  assert.match(rc.room_id, ROOM_ID_RE);
  assert.equal(typeof rc.role, "string");
  assert.equal(typeof rc.enabled, "boolean");
  assert.ok(!("id" in rc), "room codes have no id");
  for (const k of ["created_at", "updated_at"]) {
    const v = rc[k];
    if (v instanceof Date) assert.ok(!Number.isNaN(v.getTime()), `${k} valid date`);
    else assert.match(v, RFC3339_UTC_RE, `${k} RFC 3339 UTC`);
  }
}

/** Turns the SDK's Date-cast fields back into epoch millis so objects compare equal. */
function normDates(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k.endsWith("_at") && v) out[k] = new Date(v).getTime();
    else out[k] = v;
  }
  return out;
}

function byCode(a, b) {
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}

module.exports = {
  HMS,
  BASE_URL,
  API_URL,
  ACCESS_KEY,
  SECRET,
  DEFAULT_TEMPLATE_NAME,
  DEFAULT_ROLES,
  ROOM_ID_RE,
  UUID_V4_RE,
  ROOM_CODE_RE,
  RFC3339_UTC_RE,
  UNKNOWN_ID,
  makeSdk,
  captureError,
  assertSdkError,
  assertEnvelope,
  raw,
  collect,
  recordPages,
  uniqueName,
  decodeJwt,
  verifyHs256,
  signHs256,
  managementClaims,
  assertRoomShape,
  assertRoomCodeShape,
  normDates,
  byCode,
};
