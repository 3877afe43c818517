// The coffee shop's page in a real browser (Debian's chromium driven by playwright-core):
// a customer, signed out, builds a basket, places the order and watches it turn READY under
// "Your orders" without the page ever asking a staff route, and opens its timeline; a wrong
// token is refused; staff sign in, see every order (a large one says why it waits: threshold,
// total, deadline, time left), see an order's payments, pick the customer's up and cannot
// approve; after signing out nothing of the staff view is left; a manager approves the large
// order and the page names the approver; an operator sees the event queues, dead letters
// (and replays one) and the stock, but not the board. A customer orders for delivery (the
// form's hints, an unserved postcode's 422 beside its field, the fee in the total) and staff,
// as the courier, mark it picked up and delivered, and report another one failed (with its
// reason). Then: one live region only, 44 px
// touch targets, the phone layout's section tabs, and (on a second shop with
// auto_fulfill=false) a focused Complete button that keeps its focus across queue refreshes.
//
//   COFFEESHOP_URL=http://127.0.0.1:3000 COFFEESHOP_STAFF_TOKEN=... \
//     COFFEESHOP_MANAGER_TOKEN=... COFFEESHOP_OPERATOR_TOKEN=... \
//     COFFEESHOP_MANUAL_URL=http://127.0.0.1:3001 node --test tests/browser/order.spec.mjs
//
// `cargo test -p coffeeshop-tests --test browser` starts both shops and runs this script with
// the test tokens of tests/lib.rs. The tests run in order and share one page (the phone and
// station tests open pages of their own).

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
const OPERATOR_TOKEN = process.env.COFFEESHOP_OPERATOR_TOKEN;
// A shop started with auto_fulfill=false: its items wait for staff on the station queues.
const MANUAL = (process.env.COFFEESHOP_MANUAL_URL || "").replace(/\/+$/, "");
const STAFF_NAME = process.env.COFFEESHOP_STAFF_NAME || "sam";
const MANAGER_NAME = process.env.COFFEESHOP_MANAGER_NAME || "meg";
const OPERATOR_NAME = process.env.COFFEESHOP_OPERATOR_NAME || "otto";
const SCREENSHOT = fileURLToPath(new URL("../../target/browser/order.png", import.meta.url));
const STAFF_SCREENSHOT = fileURLToPath(new URL("../../target/browser/staff.png", import.meta.url));
const DESKTOP_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/desktop.png", import.meta.url));
const PHONE_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/phone.png", import.meta.url));
const DELIVERY_FORM_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/delivery-form.png", import.meta.url));
const DELIVERY_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/delivery.png", import.meta.url));
const DELIVERY_DETAIL_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/delivery-detail.png", import.meta.url));
const COURIER_PHONE_SCREENSHOT = fileURLToPath(new URL("../../target/screenshots/courier-phone.png", import.meta.url));
// spin.toml's delivery_postcodes ("276,277,282,303"): 27601 is served, 99999 is not.
const SERVED_POSTCODES = ["276", "277", "282", "303"];
const ADA = { recipient: "Ada Lovelace", address: "12 Market Street, Raleigh", postcode: "27601" };
const UNSERVED_POSTCODE = "99999";
const DESKTOP = { width: 1360, height: 900 };
const PHONE = { width: 390, height: 844 };
const MIN_TARGET = 44; // CSS px, each side of every button, link and input
const STATUS_TIMEOUT = 30_000;
const TOKEN_KEY = "coffeeshop.token";

assert.ok(STAFF_TOKEN, "COFFEESHOP_STAFF_TOKEN names a token with the staff role");
assert.ok(MANAGER_TOKEN, "COFFEESHOP_MANAGER_TOKEN names a token with the manager role");
assert.ok(OPERATOR_TOKEN, "COFFEESHOP_OPERATOR_TOKEN names a token with the operator role");
assert.ok(MANUAL, "COFFEESHOP_MANUAL_URL names a shop started with auto_fulfill=false");
const TOKENS = [STAFF_TOKEN, MANAGER_TOKEN, OPERATOR_TOKEN];

let browser;
let page;
const pageErrors = [];
const consoleMessages = [];
const cspViolations = [];
/** Every request the page made, in order. */
const requests = [];

/** A new page of its own (own storage), watched like the shared one. */
async function newPage(viewport) {
  const context = await browser.newContext({ viewport });
  const p = await context.newPage();
  p.setDefaultTimeout(STATUS_TIMEOUT);
  p.on("pageerror", (e) => pageErrors.push(String(e)));
  p.on("console", (m) => {
    const text = m.text();
    consoleMessages.push(text);
    if (/Content[- ]Security[- ]Policy/i.test(text)) cspViolations.push(text);
    if (m.type() === "error") console.log(`[browser console] ${text}`);
  });
  return p;
}

before(async () => {
  await mkdir(dirname(DESKTOP_SCREENSHOT), { recursive: true });
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
  const context = await browser.newContext({ viewport: DESKTOP });
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
function card(id, status, on = page) {
  return on.locator(`[data-testid="order-card"][data-order-id="${id}"][data-status="${status}"]`);
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
    "/v1/api/shipments",
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
    assert.ok(!TOKENS.some((t) => text.includes(t)), "no token in the console");
  }
}

/** The page's visible text holds no token. */
async function assertNoTokenShown() {
  const text = await page.locator("body").innerText();
  assert.ok(!TOKENS.some((t) => text.includes(t)), "no token on the page");
  const html = await page.content();
  assert.ok(!TOKENS.some((t) => html.includes(t)), "no token in the DOM");
}

async function signIn(token, on = page) {
  await on.getByLabel("Staff token").fill(token);
  await on.getByTestId("signin").click();
}

async function signOut(on = page) {
  await on.getByTestId("signout").click();
  await on.getByTestId("signin-token").waitFor({ state: "visible" });
}

/** Integer cents as the page writes them: 925 -> "$9.25". */
function dollars(cents) {
  return `$${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

/** The words of the visible badges `testid` (order-status or line-status) under `scope`. */
async function badgeWords(scope, testid) {
  return scope.getByTestId(testid).evaluateAll((els) =>
    els.filter((e) => e.offsetParent !== null).map((e) => e.textContent.trim()));
}

/** Every visible button, link and input of `p` is at least 44 x 44 CSS px. */
async function assertTouchTargets(p, where) {
  const small = await p.locator("button, a[href], input, select, textarea, summary").evaluateAll((els, min) =>
    els.filter((e) => {
      const r = e.getBoundingClientRect();
      const style = getComputedStyle(e);
      return r.width > 0 && r.height > 0 && style.visibility !== "hidden";
    }).map((e) => {
      const r = e.getBoundingClientRect();
      return { what: `${e.tagName.toLowerCase()}[${e.dataset.testid || e.id || e.textContent.trim()}]`, w: r.width, h: r.height };
    }).filter((t) => t.w < min - 0.5 || t.h < min - 0.5), MIN_TARGET);
  const count = await p.locator("button:visible, input:visible").count();
  assert.ok(count > 0, `${where}: there are controls to measure`);
  assert.deepEqual(small, [], `${where}: every control is at least ${MIN_TARGET}px each way`);
}

/** The page has one live region: the polite announcer; lists and totals are not live. */
async function assertOneLiveRegion(p) {
  const live = await p.locator("[aria-live]").evaluateAll((els) =>
    els.map((e) => `${e.id}:${e.getAttribute("aria-live")}`));
  assert.deepEqual(live, ["announcer:polite"], "exactly one aria-live region, the announcer");
  // Roles and elements that are live without saying so.
  assert.equal(await p.locator('[role="status"], [role="log"], [role="marquee"], [role="timer"], output').count(), 0,
    "no implicit live regions");
}

/** Opens order `id`'s detail from its card on the board and returns the dialog. */
async function openDetail(id, on = page) {
  await on.locator(`[data-testid="order-card"][data-order-id="${id}"]`).getByTestId("order-open").click();
  const dialog = on.getByTestId("order-dialog");
  await dialog.waitFor({ state: "visible" });
  assert.match(await dialog.getByTestId("detail-title").textContent(), new RegExp(id.slice(0, 8)));
  await dialog.getByTestId("timeline-entry").first().waitFor();
  return dialog;
}

async function closeDetail(on = page) {
  await on.getByTestId("detail-close").click();
  await on.getByTestId("order-dialog").waitFor({ state: "hidden" });
}

/** The events of the dialog's timeline, in order. */
async function timelineEvents(dialog) {
  return dialog.getByTestId("timeline-entry").evaluateAll((els) => els.map((e) => e.dataset.event));
}

/** An order placed straight at the API (not by the page): `count` lattes and croissants. */
async function placeLarge(count) {
  return placeAt(BASE, count);
}

async function placeAt(base, count) {
  const response = await fetch(`${base}/v1/api/orders`, {
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
  // A line's FULFILLED is "made"; the order's own word is another one.
  assert.deepEqual(await badgeWords(ready, "line-status"), ["made", "made"], "lines say made");
  assert.deepEqual(await badgeWords(ready, "order-status"), ["ready"]);
  // The one live region said so, once the order changed from what placing it answered.
  await page.waitForFunction((id) => document.getElementById("announcer").textContent === `Order ${id} is ready.`,
    customerOrder.slice(0, 8));
  await assertOneLiveRegion(page);
  await assertTouchTargets(page, "desktop, signed out");
  // At desktop width every section shows side by side: no tabs.
  assert.equal(await page.getByTestId("sections").isVisible(), false, "no section tabs on a desktop");
  assert.equal(await page.getByTestId("menu").isVisible(), true);
  assert.equal(await page.getByTestId("board-title").isVisible(), true);
  assert.equal(await page.getByTestId("feed").isVisible(), true);

  // The order's detail: its timeline, and (signed out) no payments asked for or shown.
  const dialog = await openDetail(customerOrder);
  const events = await timelineEvents(dialog);
  assert.equal(events[0], "order_placed", `the timeline starts with the placing: ${events}`);
  assert.ok(events.includes("order_ready"), `the timeline has the order turning ready: ${events}`);
  assert.equal(await dialog.getByTestId("payments").count(), 0, "customers see no payments");
  assert.deepEqual(await badgeWords(dialog, "line-status"), ["made", "made"]);
  await assertTouchTargets(page, "desktop, order detail");
  await page.keyboard.press("Escape"); // the dialog closes with Escape, and focus goes back
  await page.getByTestId("order-dialog").waitFor({ state: "hidden" });
  assert.equal(await page.evaluate(() => document.activeElement?.closest("[data-testid=order-card]")?.dataset.orderId),
    customerOrder, "focus is back on the order's card");
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
  await page.screenshot({ path: SCREENSHOT, fullPage: true, animations: "disabled" });
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

/** The card or dialog `scope` says why `order` waits: the threshold of GET /v1/api/settings,
 *  the order's total, its deadline and the time left, counting down. */
async function assertWaitingReason(scope, order) {
  const settings = await (await fetch(`${BASE}/v1/api/settings`)).json();
  assert.equal(typeof settings.approvalThresholdCents, "number", JSON.stringify(settings));
  const reason = scope.getByTestId("wait-reason");
  await reason.getByTestId("wait-threshold").waitFor();
  assert.equal(await reason.getByTestId("wait-threshold").textContent(), dollars(settings.approvalThresholdCents));
  assert.equal(await reason.getByTestId("wait-total").textContent(), dollars(order.totalCents));
  assert.ok(order.totalCents >= settings.approvalThresholdCents, "the order is over the threshold");
  const deadline = reason.getByTestId("wait-deadline");
  assert.ok(order.approvalDeadline, `the order has a deadline: ${JSON.stringify(order)}`);
  assert.equal(await deadline.getAttribute("datetime"), order.approvalDeadline);
  assert.ok((await deadline.textContent()).length > 0, "the deadline is written out");
  const left = reason.getByTestId("wait-left");
  const first = await left.textContent();
  assert.match(first, /^\d+m \d\ds left$/, "the time left");
  const secondsOf = (t) => { const [, m, s] = /^(\d+)m (\d\d)s/.exec(t); return Number(m) * 60 + Number(s); };
  const span = settings.approvalWindowSeconds;
  assert.ok(secondsOf(first) <= span && secondsOf(first) > span - 120, `${first} of a ${span}s window`);
  await page.waitForTimeout(1500);
  const later = await left.textContent();
  assert.ok(secondsOf(later) < secondsOf(first), `the time left counts down: ${first}, then ${later}`);
  const expected = (Date.parse(order.approvalDeadline) - Date.now()) / 1000;
  assert.ok(Math.abs(secondsOf(later) - expected) <= 2, `${later} is the time to the deadline (${expected.toFixed(1)}s)`);
}

let largeAnswer; // the shop's answer to placing the large order (its total and deadline)

test("staff sign in: the whole board, the queues and the feed; pick up; no approving", async () => {
  largeOrder = (await placeLarge(20)).id;
  largeAnswer = await (await fetch(`${BASE}/v1/api/orders/${largeOrder}`)).json();
  assert.equal(largeAnswer.orderStatus, "AWAITING_APPROVAL");
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
  await assertWaitingReason(waiting, largeAnswer);
  assert.equal(await page.getByTestId("approve").count(), 0, "staff cannot approve");
  assert.equal(await page.getByTestId("reject").count(), 0, "staff cannot reject");
  assert.equal(await waiting.getByTestId("cancel").count(), 1, "it may still be cancelled");

  // The station queues and the whole feed.
  await page.getByTestId("stations").waitFor();
  await page.getByTestId("queue-barista").waitFor({ state: "attached" }); // empty: no height
  await page.getByTestId("queue-kitchen").waitFor({ state: "attached" });
  // The shop runs with auto_fulfill (the default): the empty queues say so, from GET /v1/api/settings.
  assert.equal((await (await fetch(`${BASE}/v1/api/settings`)).json()).autoFulfill, true);
  await page.waitForFunction(() => /Auto-fulfil is on/.test(document.getElementById("queue-barista-empty").textContent));
  assert.match(await page.getByTestId("queue-kitchen-empty").textContent(), /Auto-fulfil is on: the station makes each item/);
  assert.ok(requests.some((r) => new URL(r.url()).pathname === "/v1/api/settings"), "the page asked GET /v1/api/settings");
  assert.ok(requests.slice(before).some((r) => new URL(r.url()).pathname === "/v1/api/barista/queue"),
    "the barista queue is asked for");
  await page.locator(`[data-testid="notification"][data-order-id="${largeOrder}"]`).first().waitFor();

  const sent = requests.slice(before);
  const board = sent.filter((r) => new URL(r.url()).pathname === "/v1/api/fulfillment-orders");
  assert.ok(board.length > 0, "the board asks GET /v1/api/fulfillment-orders");
  const headers = await board[0].allHeaders();
  assert.equal(headers.authorization, `Bearer ${STAFF_TOKEN}`, "with the staff token");

  await page.screenshot({ path: STAFF_SCREENSHOT, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${STAFF_SCREENSHOT}`);
  await page.screenshot({ path: DESKTOP_SCREENSHOT, fullPage: true, animations: "disabled" });
  console.log(`screenshot: ${DESKTOP_SCREENSHOT}`);
  await assertTouchTargets(page, "desktop, staff");

  // Staff see an order's payments in its detail: the customer's was charged, the large one not yet.
  let dialog = await openDetail(customerOrder);
  const payments = dialog.getByTestId("payments");
  await payments.waitFor();
  assert.equal(await payments.getAttribute("data-payment-status"), "CHARGED", await payments.textContent());
  assert.equal(await dialog.locator('[data-testid="payment-entry"][data-kind="charge"]').count(), 1, "one charge");
  assert.match(await payments.textContent(), /\$9\.25/);
  await closeDetail();
  dialog = await openDetail(largeOrder);
  await dialog.getByTestId("payments").waitFor();
  assert.match(await dialog.getByTestId("payments").textContent(), /no payment recorded/i);
  await assertWaitingReason(dialog, largeAnswer);
  await closeDetail();

  await ready.getByTestId("pickup").click();
  const fulfilled = card(customerOrder, "FULFILLED");
  await fulfilled.waitFor();
  assert.equal(await fulfilled.getByTestId("pickup").count(), 0, "nothing left to pick up");
  // The order's FULFILLED is "picked up", its lines' FULFILLED "made": never the same words.
  assert.deepEqual(await badgeWords(fulfilled, "order-status"), ["picked up"]);
  assert.deepEqual(await badgeWords(fulfilled, "line-status"), ["made", "made"]);
  const orderWords = new Set(await badgeWords(page.getByTestId("orders"), "order-status"));
  const lineWords = new Set(await badgeWords(page.getByTestId("orders"), "line-status"));
  assert.deepEqual([...lineWords].filter((w) => orderWords.has(w)), [], `lines ${[...lineWords]} vs orders ${[...orderWords]}`);
  // Nor does the feed say "fulfilled" of either: an item is made, an order picked up.
  await page.locator('[data-testid="notification"]').filter({ hasText: "Order picked up" }).first().waitFor();
  assert.ok(await page.locator('[data-testid="notification"]').filter({ hasText: "item made" }).count() > 0);
  assert.doesNotMatch(await page.locator("body").innerText(), /fulfilled/i, "no \"fulfilled\" on the page");
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
  await assertWaitingReason(waiting, largeAnswer);
  await waiting.getByTestId("approve").click();
  const approved = card(largeOrder, "READY");
  await approved.waitFor();

  const order = await (await fetch(`${BASE}/v1/api/orders/${largeOrder}`)).json();
  assert.ok(JSON.stringify(order.timeline).includes(`approved by ${MANAGER_NAME}`),
    "the approver is the token's name");
  // The page names the approver: on the card and in the detail, whose timeline has the step.
  assert.equal(await approved.getByTestId("approved-by").textContent(), `Approved by ${MANAGER_NAME}`);
  assert.equal(await approved.getByTestId("wait-reason").count(), 0, "no longer waiting");
  const dialog = await openDetail(largeOrder);
  assert.equal(await dialog.getByTestId("detail-approved-by").textContent(), `Approved by ${MANAGER_NAME}`);
  assert.ok((await timelineEvents(dialog)).includes("order_approved"));
  await dialog.locator('[data-testid="payment-entry"][data-kind="charge"]').waitFor();
  await closeDetail();

  await page.getByTestId("signout").click();
  await page.getByTestId("signin-token").waitFor({ state: "visible" });
  assert.equal(await session(TOKEN_KEY), null);
  await assertNoTokenShown();
  assertClean();
});

test("an operator sees the event queues, the dead letters (and replays one) and the stock, not the board", async () => {
  const from = requests.length;
  await signIn(OPERATOR_TOKEN);
  const signedIn = page.getByTestId("signed-in");
  await signedIn.waitFor({ state: "visible" });
  assert.equal(await signedIn.textContent(), `Signed in as ${OPERATOR_NAME} (operator)`);

  const ops = page.getByTestId("operations");
  await ops.waitFor({ state: "visible" });
  // GET /v1/api/events/queues: a row per channel.
  await ops.getByTestId("ops-queue").first().waitFor();
  const channels = await ops.getByTestId("ops-queue").evaluateAll((rows) => rows.map((r) => r.cells[0].textContent));
  assert.ok(channels.includes("barista_order_placed"), `the queues: ${channels}`);
  assert.match(await ops.getByTestId("ops-dead-count").textContent(), /^[1-9]\d* dead letters? in all\.$/);
  // GET /v1/api/events/dead-letters: the message tests/browser.rs parked, with its Replay button.
  const letter = ops.getByTestId("dead-letter").filter({ hasText: "kitchen_order_placed" }).first();
  await letter.waitFor();
  assert.match(await letter.textContent(), /1 attempt/);
  // GET /v1/api/inventory: a row per item type.
  await ops.getByTestId("ops-stock-item").filter({ hasText: "Latte" }).waitFor();
  assert.ok(await ops.getByTestId("ops-stock-item").count() >= 2, "the stock of every item type");
  await assertTouchTargets(page, "desktop, operator");

  const replayed = page.waitForResponse((r) => r.request().method() === "POST"
    && /\/v1\/api\/events\/dead-letters\/[^/]+\/replay$/.test(new URL(r.url()).pathname));
  await letter.getByTestId("replay").click();
  assert.equal((await replayed).status(), 202, "the replay is accepted");
  await ops.getByTestId("ops-message").waitFor({ state: "visible" });
  assert.match(await ops.getByTestId("ops-message").textContent(), /Replayed: the event was sent again on kitchen_order_placed/);

  // Operators are not staff: no board of every order, no station queues.
  assert.equal(await page.getByTestId("board-title").textContent(), "Your orders");
  assert.equal(await page.getByTestId("stations").isVisible(), false, "no stations panel");
  assert.equal(await page.getByTestId("role-note").isVisible(), true, "the page says where operators look");
  assert.equal(await page.locator(`[data-testid="order-card"][data-order-id="${largeOrder}"]`).count(), 0,
    "no order but this browser's");
  const staffAsks = requests.slice(from).filter((r) => ["/v1/api/fulfillment-orders", "/v1/api/barista/queue"]
    .includes(new URL(r.url()).pathname));
  assert.deepEqual(staffAsks.map((r) => r.url()), [], "the page asks no staff route for an operator");

  // Operators read payments: the detail of this browser's order shows its charge.
  const dialog = await openDetail(customerOrder);
  await dialog.locator('[data-testid="payment-entry"][data-kind="charge"]').waitFor();
  await closeDetail();

  await signOut();
  assert.equal(await page.getByTestId("operations").isVisible(), false, "the operations view is gone");
  await assertNoTokenShown();
  assertClean();
});

// ---- delivery -------------------------------------------------------------------------

/** The error shown beside delivery field `name` (recipient, address, postcode): inside the
 *  field's own wrapper, under its input. */
function fieldError(p, name) {
  return p.getByTestId(`delivery-field-${name}`).getByTestId("field-error");
}

async function fillDelivery(p, delivery) {
  for (const [name, value] of Object.entries(delivery)) await p.getByTestId(`delivery-${name}`).fill(value);
}

/** Clicks Place order; resolves with the status and JSON of the page's POST /v1/api/orders. */
async function placeFromPage(p) {
  const answer = p.waitForResponse((r) => r.request().method() === "POST"
    && new URL(r.url()).pathname === "/v1/api/orders");
  await p.getByTestId("place-order").click();
  const response = await answer;
  return { status: response.status(), body: await response.json() };
}

/** A staff GET of the shipping API. */
async function shipmentsApi(path) {
  const response = await fetch(`${BASE}/v1/api/shipments${path}`, { headers: { authorization: `Bearer ${STAFF_TOKEN}` } });
  const text = await response.text();
  assert.equal(response.status, 200, `GET /v1/api/shipments${path}: ${text}`);
  return JSON.parse(text);
}

/** A delivery order placed straight at the API: one latte for `delivery`. */
async function placeDelivery(delivery) {
  const response = await fetch(`${BASE}/v1/api/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      orderSource: "WEB", location: "RALEIGH", loyaltyMemberId: "5b3a2e3c-1d2f-4a5b-9c8d-7e6f5a4b3c2d",
      baristaItems: [{ itemType: "LATTE", quantity: 1 }], delivery,
    }),
  });
  const text = await response.text();
  assert.equal(response.status, 202, text);
  return JSON.parse(text);
}

/** The courier view's node of order `id`'s shipment. */
function shipmentOf(p, id) {
  return p.locator(`[data-testid="shipments"] [data-testid="shipment"][data-order-id="${id}"]`);
}

/** Whether the focused element is `testid` inside order `id`'s shipment, and the same node
 *  as the one marked with a probe (when one was). */
async function focusIn(p, id) {
  return p.evaluate((orderId) => {
    const el = document.activeElement;
    return {
      testid: el?.dataset.testid,
      shipment: el?.closest("[data-testid=shipment]")?.dataset.orderId === orderId,
      probe: el?.__focusProbe === true,
    };
  }, id);
}

let deliveryFeeCents; // GET /v1/api/settings' deliveryFeeCents
let deliveryOrder; // the id of the order the customer placed for delivery

test("delivery: the form's hints, an unserved postcode's 422 beside its field, the fee in the total", async () => {
  const settings = await (await fetch(`${BASE}/v1/api/settings`)).json();
  assert.ok(Number.isInteger(settings.deliveryFeeCents) && settings.deliveryFeeCents > 0, JSON.stringify(settings));
  assert.deepEqual(settings.deliveryPostcodes, SERVED_POSTCODES, "spin.toml's delivery_postcodes");
  deliveryFeeCents = settings.deliveryFeeCents;
  const prices = new Map((await (await fetch(`${BASE}/v1/api/item-types`)).json()).map((i) => [i.name, i.priceCents]));
  const itemsCents = prices.get("LATTE") + prices.get("CROISSANT");

  const p = await newPage(DESKTOP);
  const posts = [];
  p.on("request", (r) => { if (r.method() === "POST") posts.push(new URL(r.url()).pathname); });
  try {
    await p.goto(`${BASE}/`);
    await p.getByTestId("add-LATTE").click();
    await p.getByTestId("add-CROISSANT").click();
    assert.equal(await p.getByTestId("basket-total").textContent(), dollars(itemsCents));
    assert.equal(await p.getByTestId("basket-fee").isVisible(), false, "picked up at the counter: no fee");
    assert.equal(await p.getByTestId("delivery-form").isVisible(), false);

    // Delivery: the form, the fee as a line of its own, the total with it, the served postcodes.
    const choose = p.getByTestId("choose-delivery");
    await p.waitForFunction(() => !document.getElementById("choose-delivery").disabled); // the settings arrived
    await choose.click();
    assert.equal(await choose.getAttribute("aria-pressed"), "true");
    assert.equal(await p.getByTestId("choose-pickup").getAttribute("aria-pressed"), "false");
    await p.getByTestId("delivery-form").waitFor({ state: "visible" });
    assert.equal(await p.getByTestId("basket-fee-amount").textContent(), dollars(deliveryFeeCents));
    assert.equal(await p.getByTestId("basket-total").textContent(), dollars(itemsCents + deliveryFeeCents));
    assert.match(await p.getByTestId("delivery-postcode-hint").textContent(), new RegExp(SERVED_POSTCODES.join(", ")));
    await assertTouchTargets(p, "desktop, delivery form");

    // Empty fields: a hint beside each, focus on the first, and nothing sent.
    await p.getByTestId("place-order").click();
    for (const name of ["recipient", "address", "postcode"]) {
      await fieldError(p, name).waitFor({ state: "visible" });
      assert.ok((await fieldError(p, name).textContent()).length > 0, `${name} says what is missing`);
      assert.equal(await p.getByTestId(`delivery-${name}`).getAttribute("aria-invalid"), "true", name);
    }
    assert.equal(await p.evaluate(() => document.activeElement?.id), "delivery-recipient", "focus on the first field to fix");
    assert.deepEqual(posts.filter((path) => path === "/v1/api/orders"), [], "no order sent with empty fields");

    // A postcode the shop does not serve: its 422, beside the postcode field; nothing placed.
    await fillDelivery(p, { ...ADA, postcode: UNSERVED_POSTCODE });
    assert.equal(await fieldError(p, "recipient").isVisible(), false, "typing clears the field's hint");
    const refused = await placeFromPage(p);
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    const problem = (refused.body.errors || []).find((e) => e.pointer === "/delivery/postcode");
    assert.ok(problem, `the 422 points at /delivery/postcode: ${JSON.stringify(refused.body)}`);
    const postcodeError = fieldError(p, "postcode");
    await postcodeError.waitFor({ state: "visible" });
    assert.equal(await postcodeError.textContent(), problem.detail, "the shop's words, beside the postcode");
    assert.equal(await p.getByTestId("delivery-postcode").getAttribute("aria-invalid"), "true");
    assert.match(await p.getByTestId("delivery-postcode").getAttribute("aria-describedby"),
      new RegExp(await postcodeError.getAttribute("id")), "the input names its error");
    assert.equal(await fieldError(p, "recipient").isVisible(), false);
    assert.equal(await fieldError(p, "address").isVisible(), false);
    assert.equal(await p.evaluate(() => document.activeElement?.id), "delivery-postcode");
    const message = p.getByTestId("order-message");
    assert.equal(await message.getAttribute("data-order-id"), null, "no order was placed");
    assert.equal(await p.getByTestId("basket-total").textContent(), dollars(itemsCents + deliveryFeeCents), "the basket stays");
    await p.screenshot({ path: DELIVERY_FORM_SCREENSHOT, fullPage: true, animations: "disabled" });
    console.log(`screenshot: ${DELIVERY_FORM_SCREENSHOT}`);

    // A served postcode: the order is placed for delivery, the fee in its total.
    await p.getByTestId("delivery-postcode").fill(ADA.postcode);
    assert.equal(await postcodeError.isVisible(), false, "typing clears the shop's complaint");
    const placed = await placeFromPage(p);
    assert.equal(placed.status, 202, JSON.stringify(placed.body));
    assert.equal(placed.body.totalCents, itemsCents + deliveryFeeCents, "the shop's total has the fee");
    assert.deepEqual({ ...placed.body.delivery, shipmentId: undefined },
      { ...ADA, feeCents: deliveryFeeCents, fee: deliveryFeeCents / 100, shipmentId: undefined });
    await p.waitForFunction((id) => document.getElementById("order-message").dataset.orderId === id, placed.body.id);
    assert.match(await message.textContent(), new RegExp(`\\${dollars(itemsCents + deliveryFeeCents)}`));
    deliveryOrder = placed.body.id;

    // Under "Your orders" it turns READY with its shipment scheduled; no "pick it up at the counter".
    const ready = card(deliveryOrder, "READY", p);
    await ready.locator('[data-testid="delivery-state"][data-state="SCHEDULED"]').waitFor();
    assert.equal(await ready.getByTestId("order-total").textContent(), dollars(itemsCents + deliveryFeeCents));
    assert.match(await ready.getByTestId("delivery-state").textContent(), /delivery scheduled/);
    assert.equal(await ready.getByTestId("order-note").count(), 0, "a delivery is not picked up at the counter");
    const order = await (await fetch(`${BASE}/v1/api/orders/${deliveryOrder}`)).json();
    assert.ok(order.delivery?.shipmentId, `the order names its shipment: ${JSON.stringify(order.delivery)}`);
    await assertOneLiveRegion(p);
  } finally {
    await p.context().close();
  }
  assertClean();
});

test("the courier: picked up, delivered, the board and the detail say so; focus stays put", async () => {
  const p = await newPage(DESKTOP);
  try {
    await p.goto(`${BASE}/`);
    await signIn(STAFF_TOKEN, p);
    const courier = p.getByTestId("courier");
    await courier.waitFor({ state: "visible" });
    const shipment = shipmentOf(p, deliveryOrder);
    await shipment.and(p.locator('[data-status="SCHEDULED"]')).waitFor();
    assert.match(await shipment.textContent(), new RegExp(`${ADA.recipient}.*${ADA.address}.*${ADA.postcode}`));
    assert.equal(await shipment.getByTestId("delivered").isVisible(), false, "not on the road yet");
    // The board: READY, delivery scheduled, and no counter pickup for it.
    const ready = card(deliveryOrder, "READY", p);
    await ready.locator('[data-testid="delivery-state"][data-state="SCHEDULED"]').waitFor();
    assert.equal(await ready.getByTestId("pickup").count(), 0, "the courier takes it, not the counter");
    await assertTouchTargets(p, "desktop, courier");

    // A focused "Picked up" keeps its focus across refreshes of the list.
    const pickedUp = shipment.getByTestId("picked-up");
    await pickedUp.focus();
    await pickedUp.evaluate((el) => { el.__focusProbe = true; });
    for (let i = 0; i < 2; i += 1) {
      await p.waitForResponse((r) => new URL(r.url()).pathname === "/v1/api/shipments");
    }
    await p.waitForTimeout(200); // the last answer is drawn
    assert.deepEqual(await focusIn(p, deliveryOrder), { testid: "picked-up", shipment: true, probe: true });

    // Picked up (with the keyboard): on the road; the focus moves to its "Delivered".
    await p.keyboard.press("Enter");
    await shipment.and(p.locator('[data-status="OUT_FOR_DELIVERY"]')).waitFor();
    const out = card(deliveryOrder, "OUT_FOR_DELIVERY", p);
    await out.locator('[data-testid="delivery-state"][data-state="OUT_FOR_DELIVERY"]').waitFor();
    assert.deepEqual(await badgeWords(out, "order-status"), ["out for delivery"]);
    await p.waitForFunction(() => document.activeElement?.dataset.testid === "delivered");
    assert.deepEqual(await focusIn(p, deliveryOrder), { testid: "delivered", shipment: true, probe: false });
    await p.screenshot({ path: DELIVERY_SCREENSHOT, fullPage: true, animations: "disabled" });
    console.log(`screenshot: ${DELIVERY_SCREENSHOT}`);

    await shipment.getByTestId("delivered").click();
    await shipment.waitFor({ state: "detached" });
    const delivered = card(deliveryOrder, "DELIVERED", p);
    await delivered.locator('[data-testid="delivery-state"][data-state="DELIVERED"]').waitFor();
    assert.deepEqual(await badgeWords(delivered, "order-status"), ["delivered"]);
    const [done] = (await shipmentsApi(`?orderId=${deliveryOrder}`)).shipments;
    assert.equal(done.status, "DELIVERED", JSON.stringify(done));
    assert.ok(done.pickedUpAt && done.deliveredAt, JSON.stringify(done));

    // The detail: DELIVERED, the address, the fee as its own line, the delivery's steps.
    const dialog = await openDetail(deliveryOrder, p);
    await dialog.getByTestId("detail-delivery").waitFor();
    assert.deepEqual(await badgeWords(dialog.locator(".detail-summary"), "order-status"), ["delivered"]);
    assert.equal(await dialog.getByTestId("detail-recipient").textContent(), ADA.recipient);
    assert.equal(await dialog.getByTestId("detail-address").textContent(), ADA.address);
    assert.equal(await dialog.getByTestId("detail-postcode").textContent(), ADA.postcode);
    assert.equal(await dialog.getByTestId("detail-delivery").getByTestId("delivery-state").getAttribute("data-state"), "DELIVERED");
    assert.match(await dialog.getByTestId("detail-fee").textContent(), new RegExp(`^Delivery fee\\${dollars(deliveryFeeCents)}$`));
    const order = await (await fetch(`${BASE}/v1/api/orders/${deliveryOrder}`)).json();
    assert.equal(await dialog.getByTestId("detail-total").textContent(), dollars(order.totalCents));
    const events = await timelineEvents(dialog);
    const steps = ["shipment_scheduled", "courier_picked_up", "order_delivered"].map((e) => events.indexOf(e));
    assert.ok(steps.every((i, n) => i >= 0 && (n === 0 || i > steps[n - 1])), `the delivery's steps in order: ${events}`);
    await p.screenshot({ path: DELIVERY_DETAIL_SCREENSHOT, fullPage: true, animations: "disabled" });
    console.log(`screenshot: ${DELIVERY_DETAIL_SCREENSHOT}`);
    await closeDetail(p);
    assert.doesNotMatch(await p.locator("body").innerText(), /fulfilled/i, "no \"fulfilled\" on the page");
    await assertOneLiveRegion(p);
  } finally {
    await p.context().close();
  }
  assertClean();
});

test("the courier: a failed delivery asks for a reason; the board says delivery failed", async () => {
  const order = await placeDelivery(ADA);
  const p = await newPage(DESKTOP);
  const failures = [];
  p.on("request", (r) => { if (/\/failed$/.test(new URL(r.url()).pathname)) failures.push(r.postData()); });
  try {
    await p.goto(`${BASE}/`);
    await signIn(STAFF_TOKEN, p);
    const shipment = shipmentOf(p, order.id);
    await shipment.waitFor();

    await shipment.getByTestId("failed").click();
    const reason = shipment.getByTestId("fail-reason");
    await reason.waitFor({ state: "visible" });
    assert.equal(await shipment.getByTestId("failed").getAttribute("aria-expanded"), "true");
    assert.equal(await p.evaluate(() => document.activeElement?.dataset.testid), "fail-reason", "focus on the reason");
    await assertTouchTargets(p, "desktop, failed delivery");
    // No reason: the hint beside the input, and nothing sent.
    await shipment.getByTestId("report-failure").click();
    const hint = shipment.getByTestId("fail-form").getByTestId("field-error");
    await hint.waitFor({ state: "visible" });
    assert.match(await hint.textContent(), /why/i);
    assert.equal(await reason.getAttribute("aria-invalid"), "true");
    assert.deepEqual(failures, [], "no report without a reason");

    await reason.fill("nobody home");
    await reason.press("Enter");
    await shipment.waitFor({ state: "detached" });
    assert.deepEqual(failures.map((b) => JSON.parse(b)), [{ reason: "nobody home" }]);
    const failed = card(order.id, "DELIVERY_FAILED", p);
    await failed.locator('[data-testid="delivery-state"][data-state="FAILED"]').waitFor();
    assert.deepEqual(await badgeWords(failed, "order-status"), ["delivery failed"]);
    assert.match(await failed.getByTestId("delivery-state").textContent(), /nobody home/, "the board says why");
    const [gone] = (await shipmentsApi(`?orderId=${order.id}`)).shipments;
    assert.deepEqual([gone.status, gone.reason], ["FAILED", "nobody home"]);
    // Refunded, fee included: the detail's payments say so.
    const dialog = await openDetail(order.id, p);
    await dialog.locator('[data-testid="payment-entry"][data-kind="refund"]').waitFor();
    assert.match(await dialog.locator('[data-testid="payment-entry"][data-kind="refund"]').textContent(),
      new RegExp(`\\${dollars(order.totalCents)}`));
    assert.ok((await timelineEvents(dialog)).includes("delivery_failed"));
    await closeDetail(p);
  } finally {
    await p.context().close();
  }
  assertClean();
});

test("phone width: section tabs reach the board without scrolling past the menu", async () => {
  const phone = await newPage(PHONE);
  try {
    await phone.goto(`${BASE}/`);
    await phone.getByTestId("add-LATTE").waitFor();
    const tabs = phone.getByTestId("sections");
    assert.equal(await tabs.isVisible(), true, "the section tabs show on a phone");
    const boardTab = phone.getByTestId("tab-board");
    const tabBox = await boardTab.boundingBox();
    assert.ok(tabBox && tabBox.y + tabBox.height <= PHONE.height, `the Orders tab is on the first screen: ${JSON.stringify(tabBox)}`);
    assert.equal(await phone.getByTestId("board-title").isVisible(), false, "one section at a time: the menu first");
    assert.equal(await phone.getByTestId("tab-stations").isVisible(), false, "no Stations tab signed out");
    assert.equal(await phone.getByTestId("tab-operations").isVisible(), false, "no Operations tab signed out");
    assert.equal(await phone.getByTestId("tab-courier").isVisible(), false, "no Courier tab signed out");
    await assertTouchTargets(phone, "phone, menu");

    // Staff on a phone: the tab brings the board up where the menu was, nothing scrolled.
    await signIn(STAFF_TOKEN, phone);
    await phone.getByTestId("signed-in").waitFor({ state: "visible" });
    await phone.getByTestId("tab-stations").waitFor({ state: "visible" });
    await boardTab.click();
    assert.equal(await boardTab.getAttribute("aria-current"), "true");
    const title = phone.getByTestId("board-title");
    await title.waitFor({ state: "visible" });
    assert.equal(await title.textContent(), "Orders");
    assert.equal(await phone.getByTestId("menu").isVisible(), false, "the menu gives way");
    assert.equal(await phone.evaluate(() => window.scrollY), 0, "nothing was scrolled");
    const cardOnPhone = phone.locator(`[data-testid="order-card"][data-order-id="${largeOrder}"]`);
    await cardOnPhone.waitFor();
    const box = await cardOnPhone.boundingBox();
    assert.ok(box && box.y < PHONE.height, `an order card shows on the first screen: ${JSON.stringify(box)}`);
    assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width + 0.5, "the card fits the phone's width");
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth) <= PHONE.width, "no sideways scrolling");
    await assertTouchTargets(phone, "phone, board");
    await assertOneLiveRegion(phone);
    await phone.screenshot({ path: PHONE_SCREENSHOT, fullPage: true, animations: "disabled" });
    console.log(`screenshot: ${PHONE_SCREENSHOT}`);

    // The other tabs switch too.
    await phone.getByTestId("tab-feed").click();
    await phone.getByTestId("feed").waitFor({ state: "visible" });
    assert.equal(await title.isVisible(), false);
    await phone.getByTestId("tab-stations").click();
    await phone.getByTestId("stations").waitFor({ state: "visible" });
    await assertTouchTargets(phone, "phone, stations");

    // The courier's tab: a delivery waiting, its buttons a finger wide, nothing wider than the phone.
    const waiting = await placeDelivery(ADA);
    await phone.getByTestId("tab-courier").click();
    await phone.getByTestId("courier").waitFor({ state: "visible" });
    assert.equal(await phone.getByTestId("stations").isVisible(), false, "one section at a time");
    const shipment = shipmentOf(phone, waiting.id);
    await shipment.waitFor();
    await shipment.getByTestId("failed").click(); // the reason's input shows too
    await shipment.getByTestId("fail-reason").waitFor({ state: "visible" });
    const shipmentBox = await shipment.boundingBox();
    assert.ok(shipmentBox.x >= 0 && shipmentBox.x + shipmentBox.width <= PHONE.width + 0.5, "the delivery fits the phone's width");
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth) <= PHONE.width, "no sideways scrolling");
    await assertTouchTargets(phone, "phone, courier");
    await phone.screenshot({ path: COURIER_PHONE_SCREENSHOT, fullPage: true, animations: "disabled" });
    console.log(`screenshot: ${COURIER_PHONE_SCREENSHOT}`);
    await shipment.getByTestId("fail-cancel").click();
    assert.equal(await shipment.getByTestId("fail-reason").isVisible(), false, "Cancel closes the reason");
    assert.equal(await phone.evaluate(() => document.activeElement?.dataset.testid), "failed", "focus back on Failed");

    await signOut(phone);
    assert.equal(await phone.getByTestId("tab-courier").isVisible(), false, "signed out: no Courier tab");
    assert.equal(await phone.getByTestId("tab-stations").isVisible(), false, "signed out: no Stations tab");
    assert.equal(await phone.getByTestId("stations").isVisible(), false);
  } finally {
    await phone.context().close();
  }
  assertClean();
});

test("auto_fulfill=false: the queues say so, and a focused Complete button keeps focus across refreshes", async () => {
  const settings = await (await fetch(`${MANUAL}/v1/api/settings`)).json();
  assert.equal(settings.autoFulfill, false, "the second shop runs with auto_fulfill=false");
  const p = await newPage(DESKTOP);
  try {
    await p.goto(`${MANUAL}/`);
    await signIn(STAFF_TOKEN, p);
    await p.getByTestId("stations").waitFor({ state: "visible" });
    const empty = p.getByTestId("queue-barista-empty");
    await p.waitForFunction(() => /Auto-fulfil is off/.test(document.getElementById("queue-barista-empty").textContent));
    assert.match(await empty.textContent(), /staff complete each item with its Complete button/);

    const order = await placeAt(MANUAL, 1);
    const ticket = p.locator(`[data-testid="queue-barista"] [data-testid="ticket"][data-order-id="${order.id}"]`);
    await ticket.waitFor();
    assert.equal(await empty.isVisible(), false, "a queue with a ticket is not empty");
    const button = ticket.getByTestId("complete");
    await button.focus();
    // Mark the node: after the refreshes the focused element must be this very one.
    await button.evaluate((el) => { el.__focusProbe = true; });
    for (let i = 0; i < 3; i += 1) {
      await p.waitForResponse((r) => new URL(r.url()).pathname === "/v1/api/barista/queue");
    }
    await p.waitForTimeout(200); // the last answer is drawn
    const focus = await p.evaluate(() => ({
      same: document.activeElement?.__focusProbe === true,
      testid: document.activeElement?.dataset.testid,
    }));
    assert.deepEqual(focus, { same: true, testid: "complete" }, "the focused Complete button kept its focus");

    // The board on this shop: lines are being made, the order is in progress.
    const onBoard = p.locator(`[data-testid="order-card"][data-order-id="${order.id}"]`);
    await onBoard.waitFor();
    const orderWords = await badgeWords(onBoard, "order-status");
    for (const w of await badgeWords(onBoard, "line-status")) assert.ok(!orderWords.includes(w), `line ${w} vs order ${orderWords}`);

    // The keyboard completes it: Enter on the focused button.
    await p.keyboard.press("Enter");
    await ticket.waitFor({ state: "detached" });
    const kitchen = p.locator(`[data-testid="queue-kitchen"] [data-testid="ticket"][data-order-id="${order.id}"]`);
    await kitchen.getByTestId("complete").click();
    await kitchen.waitFor({ state: "detached" });
    const done = p.locator(`[data-testid="order-card"][data-order-id="${order.id}"][data-status="READY"]`);
    await done.waitFor();
    assert.deepEqual(await badgeWords(done, "line-status"), ["made", "made"]);
    await assertOneLiveRegion(p);
  } finally {
    await p.context().close();
  }
  assertClean();
});
