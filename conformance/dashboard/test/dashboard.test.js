// The dashboard in a real browser: headless Chromium against a live `hms serve` (started
// by run.sh with --simulate-peers), each step as a person would take it.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const BASE = process.env.HMS_BASE_URL;
const ACCESS_KEY = process.env.HMS_ACCESS_KEY;
const SECRET = process.env.HMS_SECRET;
const { CHROMIUM, HEADLESS_ARGS } = require("../../lib/chromium");
const retry = require("../../lib/eventually");
const SCREENSHOTS = process.env.SCREENSHOTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), "hms-dashboard-shots-"));

assert.ok(BASE && ACCESS_KEY && SECRET, "HMS_BASE_URL, HMS_ACCESS_KEY and HMS_SECRET must be set (use run.sh)");

/** Retries `check` (an async assertion) until it passes or `ms` have gone by. */
const eventually = (check, ms = 15000) => retry.eventually(check, ms, 250);

/** A webhook endpoint that fails until told to succeed, and remembers what it got. */
function startEndpoint() {
  const endpoint = { failing: true, received: [] };
  endpoint.server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      endpoint.received.push({ failing: endpoint.failing, event: JSON.parse(body) });
      response.writeHead(endpoint.failing ? 500 : 200).end();
    });
  });
  return new Promise((resolve) =>
    endpoint.server.listen(0, "127.0.0.1", () => {
      endpoint.url = `http://127.0.0.1:${endpoint.server.address().port}/hooks`;
      resolve(endpoint);
    }),
  );
}

async function rest(method, route, token, body) {
  const response = await fetch(BASE + route, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

describe("the dashboard in Chromium", () => {
  let context;
  let page;
  let endpoint;
  let userDataDir;
  const state = {};

  const shot = (name) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  const confirmDialog = (label) => page.locator("#dialog").getByRole("button", { name: label }).click();

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `Chromium is missing at ${CHROMIUM}`);
    endpoint = await startEndpoint();
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hms-dashboard-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", ...HEADLESS_ARGS],
      viewport: { width: 1000, height: 680 },
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BASE });
    context.setDefaultTimeout(10000);
    page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (error) => console.error("page error:", error));
  });

  after(async () => {
    if (context) await context.close();
    if (endpoint) endpoint.server.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  it("sends a browser opening / to the dashboard's sign-in", async () => {
    const response = await page.goto(BASE + "/");
    assert.equal(response.status(), 200);
    assert.equal(new URL(page.url()).pathname, "/dashboard/sign-in");
  });

  it("refuses a wrong secret with its message", async () => {
    await page.getByLabel("Access key").fill(ACCESS_KEY);
    await page.getByLabel("App secret").fill("not-the-secret");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/dashboard/sign-in") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in", exact: true }).click(),
    ]);
    assert.equal(response.status(), 401);
    assert.equal((await page.locator("#sign-in-error").textContent()).trim(), "Wrong access key or app secret.");
    assert.equal((await context.cookies()).filter((c) => c.name === "hms_dashboard").length, 0);
  });

  it("signs in with the access key and secret, from the keyboard", async () => {
    await page.getByLabel("Access key").fill("");
    await page.getByLabel("Access key").focus();
    await page.keyboard.type(ACCESS_KEY);
    await page.keyboard.press("Tab");
    await page.keyboard.type(SECRET);
    await page.keyboard.press("Enter");
    await page.waitForURL(BASE + "/dashboard/rooms");
    const [cookie] = (await context.cookies()).filter((c) => c.name === "hms_dashboard");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Strict");
    assert.ok(cookie.expires > Date.now() / 1000, "the session cookie expires");
    state.cookie = cookie.value;
  });

  it("sets the workspace's webhook endpoint", async () => {
    await page.goto(BASE + "/dashboard/webhooks");
    await page.getByLabel("URL").fill("not a url");
    // The browser's own check stops a malformed URL; the server's is seen with one it accepts.
    await page.getByLabel("URL").fill("ftp://127.0.0.1/hooks");
    await page.getByRole("button", { name: "Save endpoint" }).click();
    await eventually(async () =>
      assert.match(await page.locator('[data-error-for="url"]').textContent(), /absolute http or https URL/),
    );
    await page.getByLabel("URL").fill(endpoint.url);
    await page.getByRole("button", { name: "Save endpoint" }).click();
    await eventually(async () => assert.equal(await page.locator("#status").textContent(), "Webhook endpoint saved."));
  });

  it("generates a management token that the REST API accepts, and copies it", async () => {
    await page.goto(BASE + "/dashboard/developer");
    assert.equal(await page.getByLabel("Valid for").inputValue(), "7");
    assert.equal(await page.getByLabel("Unit").inputValue(), "86400");
    await page.getByRole("button", { name: "Generate token" }).click();
    await page.locator("#token-result").waitFor({ state: "visible" });
    const token = (await page.locator("#token-value").textContent()).trim();
    const expiry = new Date(await page.locator("#token-expiry").getAttribute("datetime"));
    const days = (expiry - Date.now()) / 86400000;
    assert.ok(days > 6.99 && days <= 7.001, `the token expires in 7 days, not ${days}`);
    await page.getByRole("button", { name: "Copy token" }).click();
    assert.equal(await clipboard(), token);
    assert.match(await page.locator("#snippet-curl").textContent(), new RegExp(`${BASE}/v2/rooms`));
    await shot("developer");

    const created = await rest("POST", "/v2/rooms", token, { name: "made-with-the-token" });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(created.body.name, "made-with-the-token");
    state.token = token;
  });

  it("creates a template from the webinar preset, and shows the API's error next to the field", async () => {
    await page.goto(BASE + "/dashboard/templates");
    await page.getByLabel("Name").fill("webinar-from-dashboard");
    await page.getByLabel("Preset").selectOption("webinar");
    await page.getByRole("button", { name: "Create template" }).click();
    await page.waitForURL(/\/dashboard\/templates\/[^/]+$/);
    const roles = page.locator("form.role");
    await eventually(async () => assert.deepEqual(await roles.evaluateAll((forms) => forms.map((f) => f.dataset.role)), ["host", "speaker", "viewer"]));
    const stored = await rest("GET", `/v2/templates/${page.url().split("/").pop()}`, state.token);
    assert.deepEqual(stored.body.roles.viewer.subscribeParams.subscribeToRoles, ["host", "speaker"]);
    assert.deepEqual(stored.body.roles.viewer.publishParams.allowed || [], []);

    const viewer = page.getByRole("form", { name: "Role viewer" });
    await viewer.getByLabel("Peer limit").fill("-5");
    await viewer.getByRole("button", { name: "Save role" }).click();
    await eventually(async () =>
      assert.match(await viewer.locator('[data-error-for="maxPeerCount"]').textContent(), /maxPeerCount must be -1, 0 or more/),
    );
    await shot("template");
  });

  it("creates a room with that template", async () => {
    await page.goto(BASE + "/dashboard/rooms");
    await eventually(async () => assert.ok((await page.locator("#room-template option").count()) > 1));
    await page.getByLabel("Name", { exact: true }).fill("dashboard-room");
    await page.getByLabel("Template").selectOption({ label: "webinar-from-dashboard" });
    await page.getByRole("button", { name: "Create room" }).click();
    await page.waitForURL(/\/dashboard\/rooms\/[^/]+$/);
    state.roomId = page.url().split("/").pop();
    await eventually(async () => assert.equal(await page.locator("h1").textContent(), "Room dashboard-room"));
  });

  it("fits a phone's width", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await page.reload();
      await page.locator("#code-list").waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
    } finally {
      await page.setViewportSize({ width: 1000, height: 680 });
    }
  });

  it("creates room codes, copies one, and a disabled code is refused by the exchange", async () => {
    await page.getByRole("button", { name: "Create room code" }).click();
    const rows = page.locator("#code-list tr[data-code]");
    await eventually(async () => assert.equal(await rows.count(), 3));
    const hostRow = rows.filter({ hasText: "host" });
    const code = await hostRow.getAttribute("data-code");
    await hostRow.getByRole("button", { name: `Copy room code ${code}` }).click();
    assert.equal(await clipboard(), code);

    const exchange = (roomCode) =>
      fetch(BASE + "/v2/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ code: roomCode }) });
    assert.equal((await exchange(code)).status, 200);
    await hostRow.getByRole("button", { name: `Disable room code ${code}` }).click();
    await eventually(async () => assert.equal(await page.locator(`#code-list tr[data-code="${code}"] td:nth-child(3)`).textContent(), "disabled"));
    const refused = await exchange(code);
    assert.equal(refused.status, 403);
    assert.equal((await refused.json()).message, "Room code is disabled");
    await shot("room");
  });

  it("shows a simulated peer in the live room and removes it", async () => {
    const joined = await rest("POST", `/v2/simulate/rooms/${state.roomId}/peers`, state.token, { role: "speaker", name: "Simulated Sam" });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    await page.goto(BASE + `/dashboard/live/${state.roomId}`);
    const row = page.locator("#peer-list tr", { hasText: "Simulated Sam" });
    await row.waitFor({ state: "visible" });
    assert.equal(await row.locator("td.role").textContent(), "speaker");
    await shot("live-room");
    await row.getByRole("button", { name: "Rename Simulated Sam" }).click();
    await page.locator("#dialog").getByLabel("New name").fill("Renamed Sam");
    await confirmDialog("Rename");
    const renamed = page.locator("#peer-list tr", { hasText: "Renamed Sam" });
    await renamed.waitFor({ state: "visible" });
    await renamed.getByRole("button", { name: "Change role of Renamed Sam" }).click();
    await page.locator("#dialog").getByLabel("New role").selectOption("viewer");
    await confirmDialog("Change role");
    await eventually(async () => assert.equal(await renamed.locator("td.role").textContent(), "viewer"));
    const peerId = await renamed.getAttribute("data-peer");
    const stored = await rest("GET", `/v2/active-rooms/${state.roomId}/peers/${peerId}`, state.token);
    assert.equal(stored.body.name, "Renamed Sam");
    assert.equal(stored.body.role, "viewer");

    await renamed.getByRole("button", { name: "Remove Renamed Sam" }).click();
    await confirmDialog("Remove peer");
    await renamed.waitFor({ state: "detached" });
    await eventually(async () => assert.equal(await page.locator("#peer-list").textContent(), "Nobody is in the room."));
    const peers = await rest("GET", `/v2/active-rooms/${state.roomId}/peers`, state.token);
    assert.ok(peers.status === 404 || Object.keys(peers.body.peers).length === 0, JSON.stringify(peers.body));
  });

  it("shows the session with the peer's join, leave and duration", async () => {
    await page.goto(BASE + "/dashboard/sessions");
    await page.getByLabel("Room id").fill(state.roomId);
    await page.getByRole("button", { name: "Filter" }).click();
    const sessionLink = page.locator("#session-list a").first();
    await eventually(async () => assert.equal(await page.locator("#session-list tr td:nth-child(2)").first().textContent(), state.roomId));
    await sessionLink.click();
    await page.waitForURL(/\/dashboard\/sessions\/[^/]+$/);
    const peer = page.locator("#session-peers tr").first();
    await eventually(async () => assert.notEqual(await peer.locator("td:nth-child(4)").textContent(), "still in the room"));
    assert.match(await peer.locator("td:nth-child(5)").textContent(), /^(\d+ h )?(\d+ min )?\d+ s$/);
  });

  it("shows the failing endpoint's deliveries and replays them", async () => {
    await page.goto(BASE + "/dashboard/webhooks");
    await page.getByLabel("Status").selectOption("failed");
    // Rows of the page's first load (every status) are there before the filtered ones.
    const failedJoin = page.locator("#delivery-list tr", { hasText: /peer\.join\.success\s*failed/ });
    await eventually(async () => {
      await page.getByRole("button", { name: "Show" }).click();
      await failedJoin.first().waitFor({ state: "visible", timeout: 1000 });
    }, 30000);
    assert.equal(await failedJoin.first().locator("td:nth-child(2)").textContent(), "failed");
    assert.match(await failedJoin.first().locator("td:nth-child(4)").textContent(), /500/);
    await shot("webhooks");

    endpoint.failing = false;
    await page.getByRole("button", { name: "Replay the failed deliveries" }).click();
    await confirmDialog("Replay");
    await eventually(async () => assert.match(await page.locator("#replay-progress").textContent(), /^Replay completed: [1-9]\d* delivered, 0 failed/), 30000);
    const replayed = endpoint.received.filter((delivery) => !delivery.failing);
    assert.ok(replayed.some((delivery) => delivery.event.type === "peer.join.success"), JSON.stringify(replayed.map((d) => d.event.type)));
  });

  it("ends a live room, locked, after confirmation", async () => {
    const joined = await rest("POST", `/v2/simulate/rooms/${state.roomId}/peers`, state.token, { role: "host", name: "Host Hana" });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    await page.goto(BASE + `/dashboard/live/${state.roomId}`);
    await page.locator("#peer-list tr", { hasText: "Host Hana" }).waitFor({ state: "visible" });
    await page.getByLabel("Lock the room").check();
    await page.getByRole("button", { name: "End room" }).click();
    await page.locator("#dialog").getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "End room" }).click();
    await confirmDialog("End room");
    await page.locator("#peer-list tr", { hasText: "Host Hana" }).waitFor({ state: "detached" });
    // Had the cancelled one ended the room, this one would have found no session to end.
    assert.equal(await page.locator("#status").textContent(), "Room ended and locked.");
    const room = await rest("GET", `/v2/rooms/${state.roomId}`, state.token);
    assert.equal(room.body.enabled, false);
  });

  it("signs out, and the session no longer works", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(BASE + "/dashboard/sign-in");
    const withOldCookie = { headers: { cookie: `hms_dashboard=${state.cookie}` }, redirect: "manual" };
    const api = await fetch(BASE + "/dashboard/api/v2/rooms", withOldCookie);
    assert.equal(api.status, 401);
    const pageAnswer = await fetch(BASE + "/dashboard/rooms", withOldCookie);
    assert.equal(pageAnswer.status, 303);
    assert.equal(pageAnswer.headers.get("location"), "/dashboard/sign-in");
  });
});
