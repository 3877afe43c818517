// The coffee shop's page in a real browser (Debian's chromium driven by playwright-core):
// a customer, signed out, builds a basket, places the order and watches it turn READY under
// "Your orders" without the page ever asking a staff route; a wrong token is refused; staff
// sign in, see every order, pick the customer's up and cannot approve; after signing out
// nothing of the staff view is left; a manager approves a large order.
//
//   COFFEESHOP_URL=http://127.0.0.1:3000 COFFEESHOP_STAFF_TOKEN=... \
//     COFFEESHOP_MANAGER_TOKEN=... node --test tests/browser/order.spec.mjs
//
// `cargo test -p coffeeshop-tests --test browser` starts a shop and runs this script with the
// test tokens of tests/lib.rs. The tests run in order and share one page.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.COFFEESHOP_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const STAFF_TOKEN = process.env.COFFEESHOP_STAFF_TOKEN;
const MANAGER_TOKEN = process.env.COFFEESHOP_MANAGER_TOKEN;
const STAFF_NAME = process.env.COFFEESHOP_STAFF_NAME || "sam";
const MANAGER_NAME = process.env.COFFEESHOP_MANAGER_NAME || "meg";
const SCREENSHOT = fileURLToPath(new URL("../../target/browser/order.png", import.meta.url));
const STAFF_SCREENSHOT = fileURLToPath(new URL("../../target/browser/staff.png", import.meta.url));
const STATUS_TIMEOUT = 30_000;
const TOKEN_KEY = "coffeeshop.token";

assert.ok(STAFF_TOKEN, "COFFEESHOP_STAFF_TOKEN names a token with the staff role");
assert.ok(MANAGER_TOKEN, "COFFEESHOP_MANAGER_TOKEN names a token with the manager role");

let browser;
let page;
const pageErrors = [];
const consoleMessages = [];
const cspViolations = [];
/** Every request the page made, in order. */
const requests = [];

before(async () => {
  // launch() gives every run a fresh, temporary user-data dir of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(STATUS_TIMEOUT);
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => {
    const text = m.text();
    consoleMessages.push(text);
    if (/Content[- ]Security[- ]Policy/i.test(text)) cspViolations.push(text);
    if (m.type() === "error") console.log(`[browser console] ${text}`);
  });
  page.on("request", (r) => requests.push(r));
  // The browser's own report of a blocked script, style or connection, besides the console.
  await page.exposeFunction("__cspViolation", (text) => cspViolations.push(text));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
});

after(async () => {
  await browser?.close();
});

/** The locator of order `id`'s card once it shows `status`. */
function card(id, status) {
  return page.locator(`[data-testid="order-card"][data-order-id="${id}"][data-status="${status}"]`);
}

/** Whether a request went to a route that needs a credential. */
function guarded(url) {
  const u = new URL(url);
  const path = u.pathname;
  if (path === "/v1/api/notifications") return !u.searchParams.get("orderId");
  return [
    "/v1/api/fulfillment-orders",
    "/v1/api/barista",
    "/v1/api/kitchen",
    "/v1/api/inventory",
    "/v1/api/me",
    "/v1/api/events",
    "/v1/api/payments",
    "/v1/api/orders/sweep",
  ].some((p) => path === p || path.startsWith(`${p}/`))
    || /^\/v1\/api\/orders\/[^/]+\/(pickup|approve)$/.test(path);
}

/** Of `list`, the requests to guarded routes and those that carried a credential. */
async function signedOutBreaches(list) {
  const out = [];
  for (const r of list) {
    if (guarded(r.url())) out.push(`guarded: ${r.method()} ${r.url()}`);
    const headers = await r.allHeaders();
    if (headers.authorization) out.push(`credential sent: ${r.method()} ${r.url()}`);
  }
  return out;
}

async function session(key) {
  return page.evaluate((k) => sessionStorage.getItem(k), key);
}

/** Nothing the page did broke its Content-Security-Policy, threw, or logged a token. */
function assertClean() {
  assert.deepEqual(cspViolations, [], "no Content-Security-Policy violation");
  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  for (const text of consoleMessages) {
    assert.ok(!text.includes(STAFF_TOKEN) && !text.includes(MANAGER_TOKEN), "no token in the console");
  }
}

/** The page's visible text holds no token. */
async function assertNoTokenShown() {
  const text = await page.locator("body").innerText();
  assert.ok(!text.includes(STAFF_TOKEN) && !text.includes(MANAGER_TOKEN), "no token on the page");
  const html = await page.content();
  assert.ok(!html.includes(STAFF_TOKEN) && !html.includes(MANAGER_TOKEN), "no token in the DOM");
}

async function signIn(token) {
  await page.getByLabel("Staff token").fill(token);
  await page.getByTestId("signin").click();
}

/** An order placed straight at the API (not by the page): `count` lattes and croissants. */
async function placeLarge(count) {
  const response = await fetch(`${BASE}/v1/api/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      orderSource: "COUNTER",
      location: "RALEIGH",
      loyaltyMemberId: "5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
      baristaItems: [{ itemType: "LATTE", quantity: count }],
      kitchenItems: [{ itemType: "CROISSANT", quantity: count }],
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 202, text);
  return JSON.parse(text);
}

let customerOrder; // the id of the order the customer places
let largeOrder; // the id of the order that waits for a manager

test("signed out: order two black coffees and a croissant, follow it to READY under Your orders", async () => {
  const response = await page.goto(`${BASE}/`);
  assert.equal(response.status(), 200, "the page answers 200");
  assert.equal(await page.title(), "Coffeeshop");
  const csp = response.headers()["content-security-policy"] || "";
  assert.ok(csp.includes("script-src 'self'"), `the page's CSP: ${csp}`);

  // The menu comes from GET /v1/api/item-types.
  const addCoffee = page.getByTestId("add-COFFEE_BLACK");
  const addCroissant = page.getByTestId("add-CROISSANT");
  await addCoffee.waitFor();
  assert.equal(await page.getByTestId("place-order").isDisabled(), true, "empty basket: no order");
  await page.getByTestId("signin-token").waitFor();
  assert.equal(await page.getByTestId("signin-token").getAttribute("type"), "password");
  assert.equal(await page.getByTestId("signed-in").isVisible(), false, "signed out");
  assert.equal(await page.getByTestId("board-title").textContent(), "Your orders");

  await addCoffee.click();
  await addCoffee.click();
  await addCroissant.click();
  assert.equal(await page.getByTestId("qty-COFFEE_BLACK").textContent(), "2");
  assert.equal(await page.getByTestId("qty-CROISSANT").textContent(), "1");
  assert.equal(await page.getByTestId("basket-total").textContent(), "$9.25");

  await page.getByTestId("place-order").click();
  const message = page.getByTestId("order-message");
  await message.waitFor({ state: "visible" });
  customerOrder = await message.getAttribute("data-order-id");
  assert.ok(customerOrder, `the order was placed: ${await message.textContent()}`);
  assert.equal(await page.getByTestId("basket-total").textContent(), "$0.00", "basket emptied");

  // "Your orders" polls GET /v1/api/orders/{id}; auto_fulfill makes the order READY.
  const ready = card(customerOrder, "READY");
  await ready.waitFor();
  assert.equal(await ready.getByTestId("order-total").textContent(), "$9.25");
  const lines = ready.getByTestId("order-line");
  assert.equal(await lines.count(), 2, "one line per item type");
  for (const status of await lines.evaluateAll((els) => els.map((e) => e.dataset.status))) {
    assert.equal(status, "FULFILLED", "every line is made");
  }
  const kept = await page.evaluate(() => JSON.parse(localStorage.getItem("coffeeshop.myOrders")));
  assert.deepEqual(kept, [customerOrder], "the browser keeps the id of its order");

  // The customer's own feed: the steps of their newest order, asked for with ?orderId=.
  await page.locator(`[data-testid="notification"][data-order-id="${customerOrder}"]`).first().waitFor();
  const others = await page.locator(`[data-testid="notification"]:not([data-order-id="${customerOrder}"])`).count();
  assert.equal(others, 0, "the feed shows only the customer's order");

  // No staff view, and no request to a staff route (no 401s), nor any credential sent.
  assert.equal(await page.getByTestId("pickup").count(), 0, "customers cannot pick up");
  assert.equal(await page.getByTestId("approve").count(), 0, "customers cannot approve");
  assert.equal(await page.getByTestId("queue-barista").isVisible(), false, "no barista queue");
  assert.equal(await page.getByTestId("queue-kitchen").isVisible(), false, "no kitchen queue");
  assert.equal(await page.getByTestId("stations").isVisible(), false, "no stations panel");
  await page.waitForTimeout(1500); // a few more rounds of polling
  assert.deepEqual(await signedOutBreaches(requests), [], "signed out, the page asks only open routes");
  assert.ok(requests.some((r) => new URL(r.url()).pathname === `/v1/api/orders/${customerOrder}`),
    "the page followed the order with GET /v1/api/orders/{id}");

  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${SCREENSHOT}`);
  assertClean();
});

test("a wrong token is refused and the page stays signed out", async () => {
  const wrong = "not-a-token-this-shop-knows";
  await page.getByLabel("Staff token").fill(wrong);
  await page.getByTestId("signin-token").press("Enter"); // Enter submits
  const error = page.getByTestId("signin-error");
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /signed out/i);
  assert.equal(await page.getByTestId("signed-in").isVisible(), false);
  assert.equal(await page.getByTestId("signout").isVisible(), false);
  assert.equal(await page.getByTestId("signin-token").isVisible(), true, "the form stays");
  assert.equal(await page.getByTestId("stations").isVisible(), false, "still no staff view");
  assert.equal(await session(TOKEN_KEY), null, "nothing kept");
  assert.ok(!(await page.locator("body").innerText()).includes(wrong), "the token is not shown");
  await page.getByLabel("Staff token").fill("");
  assertClean();
});

test("staff sign in: the whole board, the queues and the feed; pick up; no approving", async () => {
  largeOrder = (await placeLarge(20)).id;
  const before = requests.length;

  await signIn(STAFF_TOKEN);
  const signedIn = page.getByTestId("signed-in");
  await signedIn.waitFor({ state: "visible" });
  assert.equal(await signedIn.textContent(), `Signed in as ${STAFF_NAME} (staff)`);
  assert.equal(await page.getByTestId("signin-error").isVisible(), false, "no error");
  assert.equal(await page.getByTestId("signin-token").isVisible(), false, "the form gives way");
  assert.equal(await page.getByTestId("signout").isVisible(), true);
  assert.equal(await session(TOKEN_KEY), STAFF_TOKEN, "the token is kept for this tab");
  await assertNoTokenShown();

  // The full board (GET /v1/api/fulfillment-orders) has the customer's order too.
  assert.equal(await page.getByTestId("board-title").textContent(), "Orders");
  const ready = card(customerOrder, "READY");
  await ready.waitFor();
  const waiting = card(largeOrder, "AWAITING_APPROVAL");
  await waiting.waitFor();
  assert.match(await waiting.textContent(), /manager's approval/);
  assert.equal(await page.getByTestId("approve").count(), 0, "staff cannot approve");
  assert.equal(await page.getByTestId("reject").count(), 0, "staff cannot reject");
  assert.equal(await waiting.getByTestId("cancel").count(), 1, "it may still be cancelled");

  // The station queues and the whole feed.
  await page.getByTestId("stations").waitFor();
  await page.getByTestId("queue-barista").waitFor({ state: "attached" }); // empty: no height
  await page.getByTestId("queue-kitchen").waitFor({ state: "attached" });
  assert.ok(requests.slice(before).some((r) => new URL(r.url()).pathname === "/v1/api/barista/queue"),
    "the barista queue is asked for");
  await page.locator(`[data-testid="notification"][data-order-id="${largeOrder}"]`).first().waitFor();

  const sent = requests.slice(before);
  const board = sent.filter((r) => new URL(r.url()).pathname === "/v1/api/fulfillment-orders");
  assert.ok(board.length > 0, "the board asks GET /v1/api/fulfillment-orders");
  const headers = await board[0].allHeaders();
  assert.equal(headers.authorization, `Bearer ${STAFF_TOKEN}`, "with the staff token");

  await page.screenshot({ path: STAFF_SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${STAFF_SCREENSHOT}`);

  await ready.getByTestId("pickup").click();
  const fulfilled = card(customerOrder, "FULFILLED");
  await fulfilled.waitFor();
  assert.equal(await fulfilled.getByTestId("pickup").count(), 0, "nothing left to pick up");
  await assertNoTokenShown();
  assertClean();
});

test("after signing out the staff view is gone and nothing of it is kept", async () => {
  await page.getByTestId("signout").click();
  await page.getByTestId("signin-token").waitFor({ state: "visible" });
  const from = requests.length;
  assert.equal(await page.getByTestId("signed-in").isVisible(), false);
  assert.equal(await page.getByTestId("signout").isVisible(), false);
  assert.equal(await page.getByTestId("stations").isVisible(), false, "no stations panel");
  assert.equal(await page.getByTestId("board-title").textContent(), "Your orders");
  assert.equal(await session(TOKEN_KEY), null, "no token in sessionStorage");
  assert.equal(await session("coffeeshop.notifications.cursor"), null, "no staff feed cursor");
  assert.equal(await session("coffeeshop.notifications.items"), null, "no staff feed kept");

  // Back to the customer's own orders: the one picked up, not the large one.
  await card(customerOrder, "FULFILLED").waitFor();
  await page.waitForTimeout(1500);
  assert.equal(await page.locator(`[data-testid="order-card"][data-order-id="${largeOrder}"]`).count(), 0,
    "another customer's order is not shown");
  assert.equal(await page.getByTestId("pickup").count(), 0);
  assert.equal(await page.locator(`[data-testid="notification"]:not([data-order-id="${customerOrder}"])`).count(), 0,
    "the staff feed is gone");
  assert.deepEqual(await signedOutBreaches(requests.slice(from)), [], "signed out again: open routes only");
  assertClean();
});

test("a manager approves the large order", async () => {
  await signIn(MANAGER_TOKEN);
  const signedIn = page.getByTestId("signed-in");
  await signedIn.waitFor({ state: "visible" });
  assert.equal(await signedIn.textContent(), `Signed in as ${MANAGER_NAME} (manager)`);

  const waiting = card(largeOrder, "AWAITING_APPROVAL");
  await waiting.waitFor();
  assert.equal(await waiting.getByTestId("reject").count(), 1);
  await waiting.getByTestId("approve").click();
  await card(largeOrder, "READY").waitFor();

  const order = await (await fetch(`${BASE}/v1/api/orders/${largeOrder}`)).json();
  assert.ok(JSON.stringify(order.timeline).includes(`approved by ${MANAGER_NAME}`),
    "the approver is the token's name");

  await page.getByTestId("signout").click();
  await page.getByTestId("signin-token").waitFor({ state: "visible" });
  assert.equal(await session(TOKEN_KEY), null);
  await assertNoTokenShown();
  assertClean();
});
