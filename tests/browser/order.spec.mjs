// The coffee shop's page in a real browser (Debian's chromium driven by playwright-core):
// build a basket, place the order, watch it turn READY on the live board, pick it up.
//
//   COFFEESHOP_URL=http://127.0.0.1:3000 node --test tests/browser/order.spec.mjs
//
// `cargo test -p coffeeshop-tests --test browser` starts a shop and runs this script.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const BASE = (process.env.COFFEESHOP_URL || "http://127.0.0.1:3000").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = fileURLToPath(new URL("../../target/browser/order.png", import.meta.url));
const STATUS_TIMEOUT = 30_000;

let browser;
let page;
const pageErrors = [];

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
    if (m.type() === "error") console.log(`[browser console] ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
});

/** The locator of order `id`'s card once it shows `status`. */
function card(id, status) {
  return page.locator(`[data-testid="order-card"][data-order-id="${id}"][data-status="${status}"]`);
}

test("order two black coffees and a croissant, see it READY, pick it up", async () => {
  const response = await page.goto(`${BASE}/`);
  assert.equal(response.status(), 200, "the page answers 200");
  assert.equal(await page.title(), "Coffeeshop");

  // The menu comes from GET /v1/api/item-types.
  const addCoffee = page.getByTestId("add-COFFEE_BLACK");
  const addCroissant = page.getByTestId("add-CROISSANT");
  await addCoffee.waitFor();
  assert.equal(await page.getByTestId("place-order").isDisabled(), true, "empty basket: no order");

  await addCoffee.click();
  await addCoffee.click();
  await addCroissant.click();
  assert.equal(await page.getByTestId("qty-COFFEE_BLACK").textContent(), "2");
  assert.equal(await page.getByTestId("qty-CROISSANT").textContent(), "1");
  assert.equal(await page.getByTestId("basket-total").textContent(), "$9.25");

  await page.getByTestId("place-order").click();
  const message = page.getByTestId("order-message");
  await message.waitFor({ state: "visible" });
  const id = await message.getAttribute("data-order-id");
  assert.ok(id, `the order was placed: ${await message.textContent()}`);
  assert.equal(await page.getByTestId("basket-total").textContent(), "$0.00", "basket emptied");

  // The board polls GET /v1/api/fulfillment-orders; auto_fulfill makes the order READY.
  const ready = card(id, "READY");
  await ready.waitFor();
  assert.equal(await ready.getByTestId("order-total").textContent(), "$9.25");
  const lines = ready.getByTestId("order-line");
  assert.equal(await lines.count(), 2, "one line per item type");
  for (const status of await lines.evaluateAll((els) => els.map((e) => e.dataset.status))) {
    assert.equal(status, "FULFILLED", "every line is made");
  }

  await ready.getByTestId("pickup").click();
  const fulfilled = card(id, "FULFILLED");
  await fulfilled.waitFor();
  assert.equal(await fulfilled.getByTestId("pickup").count(), 0, "nothing left to pick up");

  await mkdir(dirname(SCREENSHOT), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`screenshot: ${SCREENSHOT}`);

  assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
});
