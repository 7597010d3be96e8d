"use strict";
// Shared by the browser tests: bundles the page with the pinned official SDK, serves it on
// loopback, launches Debian's Chromium with fake camera and microphone, and talks to the
// server under test through its REST API. Not a test file.

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const path = require("node:path");
const esbuild = require("esbuild");
const { chromium } = require("playwright-core");

const BASE = process.env.HMS_BASE_URL;
const ACCESS_KEY = process.env.HMS_ACCESS_KEY;
const SECRET = process.env.HMS_SECRET;
const CERT = process.env.HMS_TLS_CERT;
const { CHROMIUM, HEADLESS_ARGS } = require("../../lib/chromium");

for (const [name, value] of Object.entries({ HMS_BASE_URL: BASE, HMS_ACCESS_KEY: ACCESS_KEY, HMS_SECRET: SECRET, HMS_TLS_CERT: CERT })) {
  if (!value) throw new Error(`${name} must be set (use conformance/browser/run.sh)`);
}
if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`Chromium is required at ${CHROMIUM} (Debian package chromium); the browser suite cannot run without it`);
}

/** The base64 SHA-256 of the certificate's public key, which Chromium is told to trust. */
function spkiHash(pemPath) {
  const certificate = new crypto.X509Certificate(fs.readFileSync(pemPath));
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

/** Serves the page and its bundle on a free loopback port (a secure context). */
async function servePage() {
  const bundle = await esbuild.build({
    entryPoints: [path.join(__dirname, "..", "page", "app.js")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "browser",
    target: "chrome120",
    logLevel: "error",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const script = bundle.outputFiles[0].contents;
  const html = fs.readFileSync(path.join(__dirname, "..", "page", "index.html"));
  const server = http.createServer((request, response) => {
    const [body, type] = request.url === "/app.js" ? [script, "text/javascript"] : [html, "text/html"];
    // The SDK also calls 100ms's own hosts (analytics); the page's policy keeps it on loopback.
    response.writeHead(200, {
      "content-type": type,
      "content-security-policy": "connect-src 'self' https://127.0.0.1:* wss://127.0.0.1:* blob: data:",
    });
    response.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => server.close() };
}

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...HEADLESS_ARGS,
      "--use-fake-ui-for-media-stream",
      "--use-fake-device-for-media-stream",
      "--allow-loopback-in-peer-connection",
      "--disable-features=WebRtcHideLocalIpsWithMdns",
      `--ignore-certificate-errors-spki-list=${spkiHash(CERT)}`,
    ],
  });
}

/** A browser page with the SDK loaded, as one person in a room. */
async function openPeer(browser, pageUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.app !== undefined);
  return page;
}

/** Polls `read` (run in the page) until `accept` holds; fails with the last value. */
async function waitInPage(page, read, accept, arg, what, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await page.evaluate(read, arg);
    if (accept(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
}

function base64url(value) {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** A management token signed with the test workspace's secret. */
function managementToken() {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url({ alg: "HS256", typ: "JWT" });
  const claims = base64url({ access_key: ACCESS_KEY, type: "management", version: 2, iat: now, nbf: now, exp: now + 3600, jti: crypto.randomUUID() });
  const signature = crypto.createHmac("sha256", SECRET).update(`${header}.${claims}`).digest("base64url");
  return `${header}.${claims}.${signature}`;
}

/** A REST call to the server under test; answers `{status, body}`. */
async function api(method, route, body) {
  const response = await fetch(`${BASE}/v2${route}`, {
    method,
    headers: { authorization: `Bearer ${managementToken()}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** A new room of the default template, and its room code per role. */
async function roomWithCodes(name) {
  const room = await api("POST", "/rooms", { name });
  assert.equal(room.status, 200, JSON.stringify(room.body));
  const codes = await api("POST", `/room-codes/room/${room.body.id}`);
  assert.equal(codes.status, 200, JSON.stringify(codes.body));
  const byRole = Object.fromEntries(codes.body.data.map((code) => [code.role, code.code]));
  return { room: room.body, codes: byRole };
}

/** A new room of a new template with `roles` (name → role body), and its room code per role. */
async function roomWithTemplate(name, roles) {
  const template = await api("POST", "/templates", { name: `${name}-template`, roles });
  assert.equal(template.status, 200, JSON.stringify(template.body));
  const room = await api("POST", "/rooms", { name, template_id: template.body.id });
  assert.equal(room.status, 200, JSON.stringify(room.body));
  const codes = await api("POST", `/room-codes/room/${room.body.id}`);
  assert.equal(codes.status, 200, JSON.stringify(codes.body));
  const byRole = Object.fromEntries(codes.body.data.map((code) => [code.role, code.code]));
  return { room: room.body, codes: byRole };
}

/** Joins `page` to a room by its code, as `userName`; with `media`, publishing camera and microphone. */
async function join(page, roomCode, userName, { media = false } = {}) {
  await page.evaluate((args) => window.app.join(args), { base: BASE, roomCode, userName, media });
  assert.equal(await page.evaluate(() => window.app.connected()), true);
}

/**
 * One browser and the page server for a test file, started before its tests and stopped
 * after them: `session.browser` and `session.pageUrl` once started.
 */
function browserSession({ before, after }) {
  const session = { browser: null, pageServer: null, pageUrl: null };
  before(async () => {
    session.pageServer = await servePage();
    session.pageUrl = session.pageServer.url;
    session.browser = await launchBrowser();
  });
  after(async () => {
    await session.browser?.close();
    session.pageServer?.close();
  });
  session.pages = [];
  session.open = async () => {
    const page = await openPeer(session.browser, session.pageUrl);
    session.pages.push(page);
    return page;
  };
  // A new room with Alice (host) and Bob (guest) joined to it, each on a page of her own.
  session.aliceAndBob = async (name) => {
    const { room, codes } = await roomWithCodes(`${name}-${Date.now()}`);
    const alice = await session.open();
    const bob = await session.open();
    await join(alice, codes.host, "Alice");
    await join(bob, codes.guest, "Bob");
    return { room, codes, alice, bob };
  };
  // Every page opened so far leaves its room (at once, not after the reconnect window)
  // and closes.
  session.leaveAll = async () => {
    for (const page of session.pages.splice(0)) {
      await page.evaluate(() => window.app.leave()).catch(() => {});
      await page.context().close();
    }
  };
  return session;
}

/** Reads, in a page, its peers, messages and notifications. */
const peersOf = () => window.app.peers();
const messagesOf = () => window.app.messages();
const notificationsOf = () => window.app.notifications();

module.exports = {
  BASE,
  api,
  browserSession,
  join,
  messagesOf,
  notificationsOf,
  peersOf,
  roomWithCodes,
  roomWithTemplate,
  waitInPage,
};
