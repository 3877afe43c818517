// The coffee shop's live page: the menu and a basket (picked up or delivered), the orders
// (each with a detail view), the station queues, the courier's deliveries, the notifications
// feed and, for operators, the event queues, dead letters and stock. Plain browser JavaScript, no build step, no network assets.
//
// Signed out (customers), the page shows the orders placed from this browser and the steps of
// the newest one, and asks only routes open to anyone. Staff sign in with a token (checked
// with GET /v1/api/me, kept in sessionStorage, sent as `Authorization: Bearer`); staff and
// managers then see every order, the station queues, the deliveries and the whole feed, and
// managers approve.
// The page never shows or logs the token. Under the page's Content-Security-Policy there is
// no inline script or style: every look is a class in style.css.
//
// Lists that refresh every second are updated in place (keyed DOM nodes, see syncList), so a
// focused button keeps its focus; the page's one live region (#announcer) says only what a
// listener needs to hear, e.g. "Order 1a2b3c4d is ready".
"use strict";

(function () {
  const POLL_MS = 1000;
  const SLOW_POLL_MS = 5000;
  const MAX_QUANTITY = 20;
  const FEED_KEEP = 100;
  const MEMBER_KEY = "coffeeshop.loyaltyMemberId";
  const CURSOR_KEY = "coffeeshop.notifications.cursor"; // sessionStorage, staff sessions only
  const FEED_KEY = "coffeeshop.notifications.items"; // sessionStorage, staff sessions only
  const TOKEN_KEY = "coffeeshop.token"; // sessionStorage: the signed-in caller's bearer token
  const MY_ORDERS_KEY = "coffeeshop.myOrders"; // localStorage: ids placed here, newest first
  const MY_ORDERS_KEEP = 20;
  const TERMINAL_REFRESH_MS = 30000; // a finished order of this browser is asked for this rarely
  const IDLE_MS = 2000; // how soon a poll with nothing to ask for looks again
  const SESSION_CHECK_MS = 30000; // how often a signed-in token is checked with GET /v1/api/me
  const SETTINGS_MS = 60000; // the shop's settings change only with a restart: asked for rarely
  const OPS_POLL_MS = 2000;
  const DETAIL_POLL_MS = 2000;
  const DEAD_LETTERS_SHOWN = 20;
  const COUNTDOWN_TICK_MS = 250;

  const ORDER_STATUSES = [
    "PLACED", "AWAITING_APPROVAL", "IN_PROGRESS", "READY",
    "FULFILLED", "REJECTED", "CANCELLED", "EXPIRED",
    "OUT_FOR_DELIVERY", "DELIVERED", "DELIVERY_FAILED",
  ];

  // ---- small helpers ------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  /** Creates an element: h("button", { class: "x", onclick: f }, "text", child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else if (key === "class") {
        el.className = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Integer cents as dollars: 925 -> "$9.25". */
  function dollars(cents) {
    const n = Math.round(Number(cents) || 0);
    const sign = n < 0 ? "-" : "";
    const abs = Math.abs(n);
    return `${sign}$${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  }

  /** "COFFEE_BLACK" -> "Coffee black". */
  function label(name) {
    const text = String(name || "").toLowerCase().replace(/_/g, " ");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // The API says FULFILLED of a line (the station made it) and of an order (the customer took
  // it): the page gives each its own words, so "made" and "picked up" are never confused.
  const ORDER_WORDS = {
    PLACED: "placed", AWAITING_APPROVAL: "awaiting approval", IN_PROGRESS: "in progress",
    READY: "ready", FULFILLED: "picked up", REJECTED: "rejected", CANCELLED: "cancelled",
    EXPIRED: "expired", OUT_FOR_DELIVERY: "out for delivery", DELIVERED: "delivered",
    DELIVERY_FAILED: "delivery failed",
  };
  const LINE_WORDS = { PLACED: "queued", IN_PROGRESS: "making", FULFILLED: "made", CANCELLED: "dropped" };
  // Where a delivery is: a shipment's status, or PENDING while the order is still being made.
  const DELIVERY_WORDS = {
    PENDING: "for delivery", SCHEDULED: "delivery scheduled", OUT_FOR_DELIVERY: "out for delivery",
    DELIVERED: "delivered", FAILED: "delivery failed",
  };
  const orderWord = (status) => ORDER_WORDS[status] || label(status);
  const lineWord = (status) => LINE_WORDS[status] || label(status);
  const deliveryWord = (state) => DELIVERY_WORDS[state] || label(state);

  /** A timeline or feed event in the page's words: "kitchen_item_fulfilled" -> "Kitchen item
   *  made", "order_fulfilled" -> "Order picked up". */
  function eventWords(event) {
    const name = String(event || "");
    if (name === "order_fulfilled") return "Order picked up";
    return label(name.replace(/item_fulfilled$/, "item_made"));
  }

  /** "AWAITING_APPROVAL" -> "awaiting-approval", for class names. */
  function slug(status) {
    return String(status || "").toLowerCase().replace(/_/g, "-");
  }

  /** Sets an element's text only when it differs (no needless DOM mutation). */
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  /** Makes `container`'s children show `items` in order, one node per key: a node already
   *  shown is kept and updated (so focus stays on it), a new one is made, a gone one removed.
   *  `nodes` (key -> element) is the caller's memory of what it shows. */
  function syncList(container, nodes, items, keyOf, create, update) {
    const keep = new Set();
    let previous = null;
    for (const item of items) {
      const key = keyOf(item);
      keep.add(key);
      let el = nodes.get(key);
      if (!el) {
        el = create(item);
        nodes.set(key, el);
      }
      update(el, item);
      // Moving a node would drop its focus: only what is out of place is moved.
      const expected = previous ? previous.nextSibling : container.firstChild;
      if (expected !== el) container.insertBefore(el, expected);
      previous = el;
    }
    for (const [key, el] of nodes) {
      if (!keep.has(key)) {
        el.remove();
        nodes.delete(key);
      }
    }
  }

  function shortId(id) {
    return String(id || "").slice(0, 8);
  }

  function timeOf(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  /** "4m 05s left" until `iso`, counted from `now` (ms). */
  function timeLeft(iso, now) {
    const ms = Date.parse(iso) - now;
    if (isNaN(ms)) return "";
    if (ms <= 0) return "no time left";
    const total = Math.floor(ms / 1000);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const seconds = String(total % 60).padStart(2, "0");
    return hours ? `${hours}h ${String(minutes).padStart(2, "0")}m left` : `${minutes}m ${seconds}s left`;
  }

  /** A count-down to `iso`; tickCountdowns() keeps every one on the page current. */
  function countdown(iso) {
    return h("span", { class: "countdown", "data-testid": "wait-left", "data-until": iso },
      timeLeft(iso, Date.now()));
  }

  function tickCountdowns() {
    const now = Date.now();
    for (const el of document.querySelectorAll("[data-until]")) setText(el, timeLeft(el.dataset.until, now));
  }

  // ---- the one live region --------------------------------------------------------------

  let announceTimer = null;
  /** Says `text` to screen readers, through the page's only aria-live region. */
  function announce(text) {
    const el = $("announcer");
    clearTimeout(announceTimer);
    // Emptied first, so the same words said twice are heard twice.
    el.textContent = "";
    announceTimer = setTimeout(() => { el.textContent = text; }, 60);
  }

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // Version 4 UUID from getRandomValues (randomUUID needs a secure context).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function storageGet(store, key) {
    try { return store.getItem(key); } catch (_) { return null; }
  }

  function storageSet(store, key, value) {
    try { store.setItem(key, value); } catch (_) { /* private mode or full: keep going */ }
  }

  function storageRemove(store, key) {
    try { store.removeItem(key); } catch (_) { /* storage unavailable: nothing kept */ }
  }

  /** An answer that was not 2xx; `problem` is the RFC 9457 document when there was one. */
  class ApiError extends Error {
    constructor(status, problem) {
      super(describeProblem(status, problem));
      this.status = status;
      this.problem = problem;
    }
  }

  function describeProblem(status, problem) {
    if (!problem || typeof problem !== "object") return `Request failed (HTTP ${status})`;
    const parts = [];
    const title = problem.title || `HTTP ${status}`;
    parts.push(problem.detail ? `${title}: ${problem.detail}` : title);
    const errors = Array.isArray(problem.errors) ? problem.errors : [];
    for (const e of errors) {
      if (e && e.detail && !(problem.detail || "").includes(e.detail)) parts.push(e.detail);
    }
    return parts.join(" · ");
  }

  /** Calls the API; resolves with the JSON answer (or null), rejects with an ApiError.
   *  Sends the session's bearer token, or `options.token` when given (signing in). A 401 to
   *  the session's own token means the shop no longer accepts it: the session ends. */
  async function api(method, path, options) {
    const { body, headers, token } = options || {};
    const bearer = token !== undefined ? token : session ? session.token : null;
    const init = { method, headers: { accept: "application/json", ...(headers || {}) } };
    if (bearer) init.headers.authorization = `Bearer ${bearer}`;
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      setConnection(false);
      throw new ApiError(0, { title: "Network error", detail: "the shop did not answer" });
    }
    setConnection(true);
    const text = await response.text();
    let json = null;
    if (text) {
      try { json = JSON.parse(text); } catch (_) { json = null; }
    }
    if (!response.ok) {
      const own = token === undefined && session !== null && bearer === session.token;
      if (response.status === 401 && own) {
        endSession("You were signed out: the shop no longer accepts your token (it may have been revoked). Sign in again.");
      } else if (response.status === 403 && own) {
        recheckSession(); // the token's roles may have changed
      }
      throw new ApiError(response.status, json);
    }
    return json;
  }

  let connected = null;
  function setConnection(ok) {
    if (connected === ok) return;
    // Only a change after the first answer is news.
    if (connected !== null) announce(ok ? "Connected to the shop again." : "The shop is unreachable; retrying.");
    connected = ok;
    const el = $("connection");
    el.classList.toggle("ok", ok);
    el.classList.toggle("down", !ok);
    el.querySelector(".connection-text").textContent = ok ? "live" : "shop unreachable, retrying…";
  }

  /** Runs `task` now and then again `delay()` ms after each run ends (never overlapping).
   *  `now()` runs it at once, or right after the run in flight. */
  function poll(task, delay) {
    let timer = null;
    let running = false;
    let again = false;
    const run = async () => {
      clearTimeout(timer);
      timer = null;
      if (running) { again = true; return; }
      running = true;
      again = false;
      let next;
      try {
        next = await task();
      } catch (e) {
        if (!(e instanceof ApiError)) console.error(e);
      }
      running = false;
      let ms = typeof next === "number" ? next : delay();
      if (again) { again = false; ms = 0; }
      timer = setTimeout(run, document.hidden ? Math.max(ms, SLOW_POLL_MS) : ms);
    };
    run();
    return { now: run };
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- who is signed in -----------------------------------------------------------------

  const ROLE_ORDER = ["staff", "manager", "operator"];

  /** { token, name, roles } once GET /v1/api/me accepted the token; null when signed out. */
  let session = null;
  /** Bumped whenever the session changes: an answer asked for before is dropped. */
  let epoch = 0;
  /** A token kept from earlier in this tab is being checked. */
  let restoring = false;
  let signingIn = false;

  const holds = (role) => !!session && session.roles.includes(role);
  const isStaff = () => holds("staff") || holds("manager");
  const isManager = () => holds("manager");
  const isOperator = () => holds("operator");

  function rolesOf(me) {
    const roles = Array.isArray(me?.roles) ? me.roles.map(String) : [];
    return ROLE_ORDER.filter((r) => roles.includes(r))
      .concat(roles.filter((r) => !ROLE_ORDER.includes(r)));
  }

  /** Printable ASCII without spaces: what a header can carry and a token is made of. */
  function plausibleToken(token) {
    return /^[\x21-\x7e]{1,512}$/.test(token);
  }

  function beginSession(token, me, fresh) {
    session = { token, name: String(me?.name || "?"), roles: rolesOf(me), checkedAt: Date.now() };
    storageSet(sessionStorage, TOKEN_KEY, token);
    hideSigninError();
    sessionChanged(fresh);
  }

  /** Signs out; `reason`, when given, is shown next to the form. */
  function endSession(reason) {
    const was = session !== null || restoring;
    session = null;
    restoring = false;
    storageRemove(sessionStorage, TOKEN_KEY);
    if (reason) showSigninError(reason);
    else hideSigninError();
    if (was) sessionChanged(true);
    else renderSession();
  }

  /** Drops everything shown for the previous caller and asks again for the new one.
   *  `fresh`: also forget the kept feed (a new caller; a reload of the same keeps it). */
  function sessionChanged(fresh) {
    epoch += 1;
    if (fresh) forgetFeed();
    clearFeedView();
    if (!fresh && isStaff()) restoreFeed();
    clearBoard();
    clearQueues();
    clearCourier();
    clearOperations();
    closeDetail();
    renderSession();
    orders.now();
    queues.now();
    courier.now();
    feed.now();
    operations.now();
  }

  function showSigninError(text) {
    const el = $("signin-error");
    el.textContent = text;
    el.hidden = false;
  }

  function hideSigninError() {
    const el = $("signin-error");
    el.hidden = true;
    el.textContent = "";
  }

  function renderSession() {
    const signedIn = session !== null;
    $("signin-form").hidden = signedIn || restoring;
    $("session").hidden = !signedIn && !restoring;
    $("signed-in").textContent = signedIn
      ? `Signed in as ${session.name} (${session.roles.join(", ")})`
      : restoring ? "Checking your sign-in…" : "";
    $("stations").hidden = !isStaff();
    $("courier").hidden = !isStaff();
    $("operations").hidden = !isOperator();
    renderSections();
    $("board-title").textContent = isStaff() ? "Orders" : "Your orders";
    $("board-intro").hidden = isStaff();
    $("board-intro").textContent = signedIn
      ? "The orders placed from this browser."
      : "The orders placed from this browser. Staff: sign in to see every order.";
    $("role-note").hidden = !signedIn || isStaff();
    $("board-empty").textContent = isStaff() ? "No orders yet." : "No orders from this browser yet.";
    $("feed-scope").textContent = isStaff() ? "Every order's steps, newest first." : "";
  }

  // ---- sections (phone widths show one at a time) ------------------------------------------

  let section = "menu";

  /** Shows section `name` on phone widths (style.css hides the others there). */
  function showSection(name) {
    section = name;
    for (const el of document.querySelectorAll("[data-section]")) {
      el.classList.toggle("current", el.dataset.section === name);
    }
    for (const tab of document.querySelectorAll("#sections [data-show]")) {
      tab.setAttribute("aria-current", tab.dataset.show === name ? "true" : "false");
    }
  }

  /** Offers the tabs of the sections this caller may see; a section gone falls back to Orders. */
  function renderSections() {
    $("sections").querySelector('[data-show="stations"]').hidden = !isStaff();
    $("sections").querySelector('[data-show="courier"]').hidden = !isStaff();
    $("sections").querySelector('[data-show="operations"]').hidden = !isOperator();
    const tab = $("sections").querySelector(`[data-show="${section}"]`);
    showSection(tab && !tab.hidden ? section : "board");
  }

  async function signIn(event) {
    event.preventDefault();
    if (signingIn) return;
    const input = $("signin-token");
    const token = input.value.trim();
    if (!token) {
      showSigninError("Enter your staff token to sign in.");
      input.focus();
      return;
    }
    if (!plausibleToken(token)) {
      showSigninError("That is not a token: tokens are letters, digits and punctuation, without spaces.");
      input.focus();
      return;
    }
    signingIn = true;
    $("signin").disabled = true;
    hideSigninError();
    try {
      const me = await api("GET", "/v1/api/me", { token });
      input.value = "";
      beginSession(token, me, true);
    } catch (e) {
      showSigninError(e.status === 401
        ? "The shop does not know that token: you are still signed out."
        : `Could not sign in: ${e.message}`);
      input.select();
    } finally {
      signingIn = false;
      $("signin").disabled = false;
    }
  }

  function signOut() {
    endSession(null);
    $("signin-token").focus();
  }

  /** A token kept in this tab (a reload) is checked again before it is used. */
  async function restoreSession() {
    const token = storageGet(sessionStorage, TOKEN_KEY);
    if (!token || !plausibleToken(token)) {
      storageRemove(sessionStorage, TOKEN_KEY);
      forgetFeed(); // whatever a staff session kept is not for whoever uses the tab now
      return;
    }
    restoring = true;
    renderSession();
    while (restoring) {
      try {
        const me = await api("GET", "/v1/api/me", { token });
        if (!restoring) return; // signed out meanwhile
        restoring = false;
        beginSession(token, me, false);
        return;
      } catch (e) {
        if (!restoring) return;
        if (e.status === 401) {
          endSession("Your earlier sign-in is no longer accepted: sign in again.");
          return;
        }
        await sleep(2000); // the shop is unreachable: try again
      }
    }
  }

  /** Now and then: is the token still good, do its roles still hold? */
  async function checkSession() {
    if (!session || Date.now() - session.checkedAt < SESSION_CHECK_MS) return;
    const at = epoch;
    const me = await api("GET", "/v1/api/me"); // a 401 ends the session
    if (at !== epoch || !session) return;
    session.checkedAt = Date.now();
    const roles = rolesOf(me);
    if (String(me?.name) !== session.name || roles.join() !== session.roles.join()) {
      beginSession(session.token, me, true);
    }
  }

  function recheckSession() {
    if (!session || Date.now() - session.checkedAt < IDLE_MS) return;
    session.checkedAt = 0;
    sessionCheck.now();
  }

  // ---- the menu and the basket ----------------------------------------------------------

  const catalog = new Map(); // itemType number -> catalog entry
  const catalogByName = new Map(); // name -> catalog entry
  const basket = new Map(); // itemType number -> quantity
  let placing = false;
  let delivering = false; // the customer chose Delivery over picking up at the counter

  function entryFor(itemType) {
    if (typeof itemType === "number") return catalog.get(itemType);
    return catalogByName.get(String(itemType)) || catalog.get(Number(itemType));
  }

  function itemName(itemType, fallback) {
    const entry = entryFor(itemType);
    return label(entry ? entry.name : fallback || itemType);
  }

  function isBarista(entry) {
    return String(entry.station || "").toLowerCase() === "barista";
  }

  async function loadMenu() {
    const status = $("menu-status");
    try {
      const items = await api("GET", "/v1/api/item-types");
      catalog.clear();
      catalogByName.clear();
      for (const item of items) {
        catalog.set(item.itemType, item);
        catalogByName.set(item.name, item);
      }
      status.hidden = true;
      renderMenu();
      return true;
    } catch (e) {
      status.hidden = false;
      status.textContent = `Could not load the menu: ${e.message}. Retrying…`;
      return false;
    }
  }

  function renderMenu() {
    const groups = [
      ["Drinks", "barista"],
      ["Food", "kitchen"],
    ];
    const menu = $("menu");
    menu.replaceChildren();
    for (const [title, station] of groups) {
      const entries = [...catalog.values()].filter(
        (e) => String(e.station || "").toLowerCase() === station);
      if (!entries.length) continue;
      menu.append(h("div", { class: "menu-group" },
        h("h3", {}, title, h("span", { class: "station-tag" }, station)),
        h("ul", { class: "menu-items" }, entries.map(menuItem))));
    }
    renderBasket();
  }

  function menuItem(entry) {
    const name = label(entry.name);
    // The catalog names the item's icon, served from this origin (web/img/); decorative.
    const icon = typeof entry.image === "string" && entry.image.startsWith("/img/")
      ? h("img", { class: "menu-item-icon", src: entry.image, alt: "", width: 32, height: 32 })
      : null;
    return h("li", { class: "menu-item", "data-testid": `menu-item-${entry.name}` },
      icon,
      h("div", { class: "menu-item-text" },
        h("span", { class: "menu-item-name" }, name),
        h("span", { class: "menu-item-price" }, dollars(entry.priceCents))),
      h("div", { class: "stepper", role: "group", "aria-label": `${name} quantity` },
        h("button", {
          type: "button", class: "step", "data-testid": `remove-${entry.name}`,
          "aria-label": `Remove one ${name}`, "data-item-type": entry.itemType,
          onclick: () => change(entry.itemType, -1),
        }, "−"),
        h("span", {
          class: "qty", id: `qty-${entry.itemType}`, "data-testid": `qty-${entry.name}`,
          "aria-label": `${name} in basket`,
        }, "0"),
        h("button", {
          type: "button", class: "step add", "data-testid": `add-${entry.name}`,
          "aria-label": `Add one ${name}`, "data-item-type": entry.itemType,
          onclick: () => change(entry.itemType, 1),
        }, "+")));
  }

  function change(itemType, delta) {
    const quantity = Math.min(MAX_QUANTITY, Math.max(0, (basket.get(itemType) || 0) + delta));
    if (quantity === 0) basket.delete(itemType);
    else basket.set(itemType, quantity);
    renderBasket();
  }

  /** The items' prices plus, for a delivery, the shop's fee (the shop adds the same). */
  function basketTotal() {
    let cents = deliveryFee();
    for (const [itemType, quantity] of basket) cents += (catalog.get(itemType)?.priceCents || 0) * quantity;
    return cents;
  }

  /** The fee this basket pays: only a delivery of something pays it. */
  function deliveryFee() {
    return delivering && basket.size > 0 && deliveryOffered() ? settings.deliveryFeeCents : 0;
  }

  function renderBasket() {
    for (const entry of catalog.values()) {
      const qty = $(`qty-${entry.itemType}`);
      if (!qty) continue;
      const n = basket.get(entry.itemType) || 0;
      qty.textContent = String(n);
      qty.closest(".menu-item").classList.toggle("chosen", n > 0);
      qty.parentElement.querySelector(".step:not(.add)").disabled = n === 0;
      qty.parentElement.querySelector(".step.add").disabled = n >= MAX_QUANTITY;
    }
    const lines = $("basket-lines");
    lines.replaceChildren(...[...basket].map(([itemType, quantity]) => {
      const entry = catalog.get(itemType);
      return h("li", { "data-testid": `basket-line-${entry.name}` },
        h("span", {}, `${quantity} × ${label(entry.name)}`),
        h("span", { class: "amount" }, dollars(entry.priceCents * quantity)));
    }));
    $("basket-empty").hidden = basket.size > 0;
    const fee = deliveryFee();
    $("basket-fee").hidden = fee === 0;
    $("basket-fee-amount").textContent = dollars(fee);
    $("basket-total").textContent = dollars(basketTotal());
    $("place-order").disabled = placing || basket.size === 0;
  }

  // ---- delivery: the choice, its form and its problems -----------------------------------

  const DELIVERY_FIELDS = ["recipient", "address", "postcode"];
  const POSTCODE = /^[A-Za-z0-9 -]{3,10}$/; // what the shop accepts (it checks the area itself)

  /** The shop delivers when its settings name a fee and at least one postcode prefix. */
  function deliveryOffered() {
    return !!settings && Number.isFinite(settings.deliveryFeeCents)
      && Array.isArray(settings.deliveryPostcodes) && settings.deliveryPostcodes.length > 0;
  }

  function chooseDelivery(on) {
    delivering = on && deliveryOffered();
    renderHandover();
    renderBasket();
    if (delivering) $("delivery-recipient").focus();
  }

  /** The pickup/delivery choice, the form, and the shop's fee and postcodes as hints. */
  function renderHandover() {
    const offered = deliveryOffered();
    if (!offered) delivering = false; // the shop stopped delivering: back to the counter
    $("choose-pickup").setAttribute("aria-pressed", String(!delivering));
    $("choose-delivery").setAttribute("aria-pressed", String(delivering));
    $("choose-delivery").disabled = !offered;
    $("delivery-form").hidden = !delivering;
    const unavailable = $("delivery-unavailable");
    unavailable.hidden = offered || !settings;
    setText(unavailable, "This shop does not deliver at the moment.");
    if (offered) {
      setText($("delivery-postcode-hint"),
        `We deliver to postcodes starting ${settings.deliveryPostcodes.join(", ")}; the fee is ${dollars(settings.deliveryFeeCents)}.`);
    }
  }

  function deliveryDetails() {
    const value = (field) => $(`delivery-${field}`).value.trim();
    return { recipient: value("recipient"), address: value("address"), postcode: value("postcode") };
  }

  /** The hints the page can give before asking the shop: field -> what to fix. */
  function checkDelivery(details) {
    const problems = new Map();
    if (!details.recipient) problems.set("recipient", "Enter who receives the order.");
    if (!details.address) problems.set("address", "Enter the delivery address.");
    if (!details.postcode) problems.set("postcode", "Enter the postcode.");
    else if (!POSTCODE.test(details.postcode)) {
      problems.set("postcode", "A postcode is 3 to 10 letters, digits, spaces or hyphens.");
    }
    return problems;
  }

  function showFieldError(field, text) {
    const input = $(`delivery-${field}`);
    const error = $(`delivery-${field}-error`);
    error.hidden = !text;
    setText(error, text || "");
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function clearFieldErrors() {
    for (const field of DELIVERY_FIELDS) showFieldError(field, null);
  }

  /** Shows `problems` (field -> text) beside their fields and moves focus to the first. */
  function showFieldErrors(problems) {
    clearFieldErrors();
    for (const [field, text] of problems) showFieldError(field, text);
    const first = DELIVERY_FIELDS.find((field) => problems.has(field));
    if (first) $(`delivery-${first}`).focus();
  }

  /** The shop's errors[] (a 400, or the 422 of a postcode it does not serve) by delivery field;
   *  `all` is false when some error belongs to no field of the form. */
  function problemFields(problem) {
    const errors = Array.isArray(problem?.errors) ? problem.errors : [];
    const fields = new Map();
    let all = errors.length > 0;
    for (const e of errors) {
      const field = /^\/delivery\/(recipient|address|postcode)$/.exec(String(e?.pointer || ""))?.[1];
      if (!field) { all = false; continue; }
      fields.set(field, fields.has(field) ? `${fields.get(field)} ${e.detail}` : String(e.detail || ""));
    }
    return { fields, all };
  }

  function memberId() {
    let id = storageGet(localStorage, MEMBER_KEY);
    if (!id || !/^[0-9a-f-]{36}$/i.test(id)) {
      id = uuid();
      storageSet(localStorage, MEMBER_KEY, id);
    }
    return id;
  }

  function showOrderMessage(kind, text, orderId) {
    const el = $("order-message");
    el.hidden = false;
    el.className = `message ${kind}`;
    el.textContent = text;
    if (orderId) el.setAttribute("data-order-id", orderId);
    else el.removeAttribute("data-order-id");
  }

  async function placeOrder() {
    if (placing || basket.size === 0) return;
    const delivery = delivering ? deliveryDetails() : undefined;
    if (delivery) {
      const problems = checkDelivery(delivery);
      showFieldErrors(problems);
      if (problems.size) {
        showOrderMessage("error", "Fill in the delivery details marked above.");
        return;
      }
    }
    const baristaItems = [];
    const kitchenItems = [];
    for (const [itemType, quantity] of basket) {
      const entry = catalog.get(itemType);
      (isBarista(entry) ? baristaItems : kitchenItems).push({ itemType: entry.name, quantity });
    }
    const request = {
      commandType: 0,
      orderSource: "WEB",
      location: "ATLANTA",
      loyaltyMemberId: memberId(),
      baristaItems,
      kitchenItems,
      delivery,
      timestamp: new Date().toISOString(),
    };
    placing = true;
    renderBasket();
    $("place-order").textContent = "Placing…";
    try {
      // One key per attempt: a network retry of this same POST cannot place it twice.
      const order = await api("POST", "/v1/api/orders", {
        body: request, headers: { "idempotency-key": uuid() },
      });
      basket.clear();
      // Staff placing an order at the counter place it for someone else: only a customer's
      // own orders are remembered in this browser.
      if (!session) rememberOrder(order);
      knownStatus.set(order.id, order.orderStatus); // its next status is news
      const placed = `Order ${shortId(order.id)} placed${delivery ? " for delivery" : ""}: ${dollars(order.totalCents)}`;
      showOrderMessage("ok", placed, order.id);
      announce(placed);
      orders.now();
      queues.now();
      feed.now();
    } catch (e) {
      const { fields, all } = delivery ? problemFields(e.problem) : { fields: new Map(), all: false };
      showFieldErrors(fields);
      showOrderMessage("error", all ? "The order was not placed: check the delivery details above." : e.message);
    } finally {
      placing = false;
      $("place-order").textContent = "Place order";
      renderBasket();
    }
  }

  // ---- the orders placed from this browser ------------------------------------------------

  const TERMINAL = new Set(["FULFILLED", "REJECTED", "CANCELLED", "EXPIRED", "DELIVERED", "DELIVERY_FAILED"]);
  const mine = new Map(); // order id -> { order, fetchedAt }: the last answer for it

  function myOrderIds() {
    let ids;
    try {
      ids = JSON.parse(storageGet(localStorage, MY_ORDERS_KEY) || "[]");
    } catch (_) {
      ids = [];
    }
    if (!Array.isArray(ids)) return [];
    return ids.filter((id) => typeof id === "string" && /^[0-9A-Za-z-]{1,64}$/.test(id))
      .slice(0, MY_ORDERS_KEEP);
  }

  function saveMyOrderIds(ids) {
    storageSet(localStorage, MY_ORDERS_KEY, JSON.stringify(ids.slice(0, MY_ORDERS_KEEP)));
  }

  function rememberOrder(order) {
    if (!order || typeof order.id !== "string") return;
    saveMyOrderIds([order.id, ...myOrderIds().filter((id) => id !== order.id)]);
    mine.set(order.id, { order, fetchedAt: Date.now() });
  }

  function forgetOrder(id) {
    saveMyOrderIds(myOrderIds().filter((x) => x !== id));
    mine.delete(id);
  }

  /** Each of this browser's orders as the shop has it now; finished ones are asked for
   *  rarely (they change no more), unknown ones (404) are forgotten. */
  async function loadMyOrders() {
    const now = Date.now();
    await Promise.all(myOrderIds().map(async (id) => {
      const known = mine.get(id);
      if (known && TERMINAL.has(known.order.orderStatus) && now - known.fetchedAt < TERMINAL_REFRESH_MS) return;
      try {
        const order = await api("GET", `/v1/api/orders/${encodeURIComponent(id)}`);
        if (order && order.id === id) mine.set(id, { order, fetchedAt: Date.now() });
      } catch (e) {
        if (e.status === 404) forgetOrder(id);
        // Anything else: keep showing the last answer (the connection badge tells).
      }
    }));
    return myOrderIds().map((id) => mine.get(id)?.order).filter(Boolean);
  }

  // ---- the shop's settings ----------------------------------------------------------------

  /** GET /v1/api/settings: { autoFulfill, approvalThresholdCents, approvalWindowSeconds,
   *  deliveryFeeCents, deliveryPostcodes }. */
  let settings = null;

  async function loadSettings() {
    const answer = await api("GET", "/v1/api/settings");
    if (JSON.stringify(answer) === JSON.stringify(settings)) return SETTINGS_MS;
    settings = answer;
    // The cards' waiting reasons name the threshold, the empty queues the auto-fulfil mode.
    for (const id of cards.keys()) refreshCard(id);
    for (const station of STATIONS) renderQueueEmpty(station, stationNodes[station].size);
    // The basket's fee and the delivery form's postcode hint.
    renderHandover();
    renderBasket();
    return SETTINGS_MS;
  }

  // ---- the order board ----------------------------------------------------------------

  const cards = new Map(); // order id -> { el, signature }
  const cardErrors = new Map(); // order id -> message shown on the card
  const busy = new Set(); // order ids with an action in flight
  const knownStatus = new Map(); // order id -> the status last seen (to announce changes)
  let latestOrders = new Map();

  function badge(status, extra) {
    const known = ORDER_STATUSES.includes(status) ? status : "UNKNOWN";
    return h("span", { class: `badge status-${slug(known)} ${extra || ""}`, "data-testid": "order-status" },
      orderWord(status));
  }

  /** A line's badge: its own words ("made"), never the order's ("picked up"). */
  function lineBadge(status) {
    return h("span", { class: `badge small line-status line-${slug(status)}`, "data-testid": "line-status" },
      lineWord(status));
  }

  /** The manager who approved the order, from its timeline ("approved by meg"), or null. */
  function approverOf(order) {
    const entry = (Array.isArray(order.timeline) ? order.timeline : [])
      .find((e) => e && e.event === "order_approved");
    const match = entry && /^approved by (.+)$/.exec(String(entry.detail || ""));
    return match ? match[1] : null;
  }

  function orderActions(order) {
    const id = order.id;
    const disabled = busy.has(id);
    const buttons = [];
    const button = (text, testid, cls, action) => buttons.push(h("button", {
      type: "button", class: cls, "data-testid": testid, disabled,
      "aria-label": `${text} order ${shortId(id)}`,
      onclick: () => orderAction(id, action),
    }, text));
    const status = order.orderStatus;
    // A delivery order is the courier's to take (the Courier view), not the counter's.
    if (status === "READY" && isStaff() && !order.delivery) button("Pick up", "pickup", "primary", "pickup");
    if (status === "AWAITING_APPROVAL" && isManager()) {
      button("Approve", "approve", "primary", "approve");
      button("Reject", "reject", "danger", "reject");
    }
    if (status === "PLACED" || status === "AWAITING_APPROVAL") button("Cancel", "cancel", "quiet", "cancel");
    return buttons;
  }

  /** Why an order waits: its total against the threshold, its deadline and the time left. */
  function waitingReason(order) {
    const deadline = order.approvalDeadline;
    const threshold = settings && Number.isFinite(settings.approvalThresholdCents)
      ? [" is at or over the ", h("strong", { "data-testid": "wait-threshold" }, dollars(settings.approvalThresholdCents)),
        " threshold."]
      : " is over the approval threshold.";
    return h("div", { class: "wait-reason small", "data-testid": "wait-reason" },
      h("p", {}, "Waits for a manager's approval: its total ",
        h("strong", { "data-testid": "wait-total" }, dollars(order.totalCents)), threshold),
      deadline ? h("p", {}, "Deadline ",
        h("time", { datetime: deadline, "data-testid": "wait-deadline" }, timeOf(deadline)),
        " · ", countdown(deadline)) : null);
  }

  /** A sentence for the card, where its state asks for one. */
  function cardNote(order) {
    const status = order.orderStatus;
    if (status === "AWAITING_APPROVAL") return waitingReason(order);
    const approver = approverOf(order);
    const notes = [];
    if (approver) notes.push(h("p", { class: "card-note approved small", "data-testid": "approved-by" }, `Approved by ${approver}`));
    if (status === "READY" && !isStaff() && !order.delivery) {
      notes.push(h("p", { class: "card-note small", "data-testid": "order-note" }, "Ready: pick it up at the counter."));
    }
    return notes;
  }

  /** Where an order's delivery is (a DELIVERY_WORDS key), or null: no delivery, or none to come. */
  function deliveryState(order) {
    if (!order.delivery) return null;
    switch (order.orderStatus) {
      case "READY": return order.delivery.shipmentId ? "SCHEDULED" : "PENDING";
      case "OUT_FOR_DELIVERY": return "OUT_FOR_DELIVERY";
      case "DELIVERED": return "DELIVERED";
      case "DELIVERY_FAILED": return "FAILED";
      case "REJECTED": case "CANCELLED": case "EXPIRED": return null;
      default: return "PENDING";
    }
  }

  /** Why the courier could not deliver: the detail of the timeline's delivery_failed step. */
  function deliveryFailure(order) {
    const entry = (Array.isArray(order.timeline) ? order.timeline : [])
      .find((e) => e && e.event === "delivery_failed");
    return entry?.detail ? String(entry.detail) : null;
  }

  /** A delivery order's state, then the words `about` it (and, failed, why). */
  function deliveryRow(order, about) {
    const state = deliveryState(order);
    if (!state) return null;
    const why = state === "FAILED" ? deliveryFailure(order) : null;
    const words = [...about, why].filter(Boolean).join(" · ");
    return h("p", { class: "delivery-row small", "data-testid": "delivery-state", "data-state": state },
      h("span", { class: `badge small delivery-${slug(state)}` }, deliveryWord(state)),
      words ? h("span", { class: "muted" }, words) : null);
  }

  async function orderAction(id, action) {
    const at = epoch;
    const base = `/v1/api/orders/${encodeURIComponent(id)}`;
    const [path, body] = {
      pickup: [`${base}/pickup`],
      cancel: [`${base}/cancel`],
      approve: [`${base}/approve`, { approved: true }],
      reject: [`${base}/approve`, { approved: false }],
    }[action];
    busy.add(id);
    cardErrors.delete(id);
    refreshCard(id);
    try {
      const order = await api("POST", path, { body });
      if (order && order.id === id && mine.has(id)) mine.set(id, { order, fetchedAt: Date.now() });
    } catch (e) {
      if (at === epoch) {
        cardErrors.set(id, e.message);
        setTimeout(() => {
          if (cardErrors.get(id) === e.message) { cardErrors.delete(id); refreshCard(id); }
        }, 10000);
      }
    } finally {
      busy.delete(id);
      refreshCard(id);
      orders.now();
      queues.now();
      detail.now();
    }
  }

  function lineView(line) {
    const name = line.name ? label(line.name) : itemName(line.itemType);
    return h("li", { class: "line", "data-testid": "order-line", "data-status": line.itemStatus },
      h("span", { class: "line-name" }, `${line.quantity || 1} × ${name}`),
      lineBadge(line.itemStatus));
  }

  function cardView(order) {
    const lines = Array.isArray(order.lineItems) ? order.lineItems : [];
    const error = cardErrors.get(order.id);
    return h("li", {
      class: `order-card card-${slug(order.orderStatus)}`,
      "data-testid": "order-card", "data-order-id": order.id, "data-status": order.orderStatus,
      "aria-label": `Order ${shortId(order.id)}, ${orderWord(order.orderStatus)}`,
      // A click anywhere on the card but its buttons opens the detail; the id button is the
      // keyboard's way in.
      onclick: (event) => { if (!event.target.closest("button")) openDetail(order.id); },
    },
      h("div", { class: "card-head" },
        h("button", {
          type: "button", class: "order-open", "data-testid": "order-open", "aria-haspopup": "dialog",
          title: order.id, "aria-label": `Order ${shortId(order.id)}: details and timeline`,
          onclick: () => openDetail(order.id),
        }, h("span", { class: "order-id" }, `#${shortId(order.id)}`), h("span", { class: "open-hint small" }, "details")),
        badge(order.orderStatus)),
      h("ul", { class: "lines" }, lines.map(lineView)),
      h("div", { class: "card-foot" },
        h("span", { class: "muted small" }, [timeOf(order.createdAt), order.orderSource ? label(order.orderSource) : ""]
          .filter(Boolean).join(" · ")),
        h("span", { class: "order-total", "data-testid": "order-total" }, dollars(order.totalCents))),
      order.delivery ? deliveryRow(order, [`to ${order.delivery.recipient}`, order.delivery.postcode]) : null,
      cardNote(order),
      error ? h("p", { class: "message error small", role: "alert", "data-testid": "order-error" }, error) : null,
      h("div", { class: "actions" }, orderActions(order)));
  }

  function signatureOf(order) {
    return JSON.stringify([order.orderStatus, order.totalCents, order.lineItems, order.approvalDeadline,
      approverOf(order), order.delivery, deliveryFailure(order), settings?.approvalThresholdCents, cardErrors.get(order.id) || "",
      busy.has(order.id), isStaff(), isManager()]);
  }

  function refreshCard(id) {
    const order = latestOrders.get(id);
    const card = cards.get(id);
    if (!order || !card) return;
    const signature = signatureOf(order);
    if (signature === card.signature) return;
    const el = cardView(order);
    card.el.replaceWith(el);
    cards.set(id, { el, signature });
  }

  function clearBoard() {
    cards.clear();
    cardErrors.clear();
    knownStatus.clear();
    latestOrders = new Map();
    $("orders").replaceChildren();
    $("board-empty").hidden = true;
    $("board-count").textContent = "";
  }

  /** Whether a status change is worth saying aloud: every change of a customer's own order;
   *  for staff only what asks them to act (READY to hand over; a manager: an approval). */
  function worthAnnouncing(status) {
    if (!isStaff()) return true;
    return status === "READY" || (isManager() && status === "AWAITING_APPROVAL");
  }

  /** Announces an order's new status (not the first one seen: that is no change). */
  function noteStatus(order) {
    const before = knownStatus.get(order.id);
    knownStatus.set(order.id, order.orderStatus);
    if (before && before !== order.orderStatus && worthAnnouncing(order.orderStatus)) {
      announce(`Order ${shortId(order.id)} is ${orderWord(order.orderStatus)}.`);
    }
  }

  /** Staff see every order (newest 20); everyone else the orders placed from this browser. */
  async function loadBoard() {
    const at = epoch;
    let list;
    let total;
    if (isStaff()) {
      const page = await api("GET", "/v1/api/fulfillment-orders?pageSize=20");
      if (at !== epoch) return 0;
      list = Array.isArray(page?.orders) ? page.orders : [];
      total = typeof page?.total === "number" ? page.total : list.length;
    } else {
      list = await loadMyOrders();
      if (at !== epoch) return 0;
      total = list.length;
    }
    renderBoard(list);
    $("board-count").textContent = total > list.length
      ? `newest ${list.length} of ${total}` : `${total} order${total === 1 ? "" : "s"}`;
    return undefined;
  }

  function renderBoard(list) {
    latestOrders = new Map(list.map((o) => [o.id, o]));
    const container = $("orders");
    const keep = new Set();
    let previous = null;
    for (const order of list) {
      keep.add(order.id);
      noteStatus(order);
      let card = cards.get(order.id);
      const signature = signatureOf(order);
      if (!card) {
        card = { el: cardView(order), signature };
        // Only a newly listed order slides in, once (not again when its section shows again).
        card.el.classList.add("new");
        card.el.addEventListener("animationend", (e) => e.currentTarget.classList.remove("new"), { once: true });
        cards.set(order.id, card);
      } else if (card.signature !== signature) {
        const el = cardView(order);
        card.el.replaceWith(el);
        card = { el, signature };
        cards.set(order.id, card);
      }
      // Keep the page's order: newest first, moving nothing that is already in place.
      const expected = previous ? previous.nextSibling : container.firstChild;
      if (expected !== card.el) container.insertBefore(card.el, expected);
      previous = card.el;
    }
    for (const [id, card] of cards) {
      if (!keep.has(id)) {
        card.el.remove();
        cards.delete(id);
        cardErrors.delete(id);
      }
    }
    $("board-empty").hidden = list.length > 0;
  }

  // ---- one order's detail (a dialog) -------------------------------------------------------
  // Anyone may read an order they hold the id of (its timeline); a signed-in caller of any
  // role also sees its payments. Customers only ever open their own orders: the board shows
  // them nothing else.

  let detailId = null; // the order shown in the dialog, or null when it is closed
  let detailSignature = null;

  function openDetail(id) {
    detailId = id;
    detailSignature = null;
    $("detail-title").textContent = `Order #${shortId(id)}`;
    $("detail-body").replaceChildren(h("p", { class: "muted" }, "Loading…"));
    const dialog = $("order-dialog");
    if (!dialog.open) dialog.showModal();
    detail.now();
  }

  function closeDetail() {
    const dialog = $("order-dialog");
    if (dialog.open) dialog.close(); // its "close" event forgets the order (detailClosed)
    else detailId = null;
  }

  /** Keyboard users land back on the order they opened (its card may have been redrawn). */
  function detailClosed() {
    const id = detailId;
    detailId = null;
    const opener = id && cards.get(id)?.el.querySelector('[data-testid="order-open"]');
    if (opener && (document.activeElement === document.body || !document.activeElement)) opener.focus();
  }

  /** The order's payments ledger; "none" when it was never charged (404). */
  async function loadPayment(id) {
    try {
      return await api("GET", `/v1/api/payments/${encodeURIComponent(id)}`);
    } catch (e) {
      if (e.status === 404) return "none";
      return { error: e.message };
    }
  }

  async function loadDetail() {
    const id = detailId;
    if (!id) return IDLE_MS;
    const at = epoch;
    let order;
    try {
      order = await api("GET", `/v1/api/orders/${encodeURIComponent(id)}`);
    } catch (e) {
      if (id === detailId && at === epoch) {
        $("detail-body").replaceChildren(h("p", { class: "message error small", role: "alert" }, e.message));
        detailSignature = null;
      }
      return SLOW_POLL_MS;
    }
    const payment = session ? await loadPayment(id) : null;
    if (id !== detailId || at !== epoch) return 0;
    // Re-drawn only when something changed (the count-down ticks by itself).
    const signature = JSON.stringify([order, payment, settings]);
    if (signature !== detailSignature) {
      detailSignature = signature;
      $("detail-body").replaceChildren(...detailView(order, payment));
    }
    return TERMINAL.has(order.orderStatus) ? SLOW_POLL_MS : DETAIL_POLL_MS;
  }

  function detailView(order, payment) {
    const lines = Array.isArray(order.lineItems) ? order.lineItems : [];
    const approver = approverOf(order);
    return [
      h("p", { class: "detail-summary" }, badge(order.orderStatus), " ",
        h("span", { class: "order-total", "data-testid": "detail-total" }, dollars(order.totalCents))),
      h("ul", { class: "lines" }, lines.map(lineView)),
      order.delivery ? feeLine(order.delivery) : null,
      order.orderStatus === "AWAITING_APPROVAL" ? waitingReason(order) : null,
      approver ? h("p", { class: "card-note approved small", "data-testid": "detail-approved-by" }, `Approved by ${approver}`) : null,
      order.delivery ? h("h3", {}, "Delivery") : null,
      order.delivery ? deliveryAddress(order) : null,
      h("h3", {}, "Timeline"),
      h("ol", { class: "timeline", "data-testid": "timeline" }, (order.timeline || []).map(timelineEntry)),
      session ? h("h3", {}, "Payments") : null,
      session ? paymentView(payment) : null,
    ].filter(Boolean);
  }

  /** The fee, a line of its own under the items (the total above includes it). */
  function feeLine(delivery) {
    return h("p", { class: "line fee-line", "data-testid": "detail-fee" },
      h("span", {}, "Delivery fee"), h("span", { class: "amount" }, dollars(delivery.feeCents)));
  }

  function deliveryAddress(order) {
    const { recipient, address, postcode } = order.delivery;
    return h("div", { class: "delivery-address", "data-testid": "detail-delivery" },
      deliveryRow(order, []),
      h("address", {},
        h("span", { "data-testid": "detail-recipient" }, recipient),
        h("span", { "data-testid": "detail-address" }, address),
        h("span", { "data-testid": "detail-postcode" }, postcode)));
  }

  function timelineEntry(entry) {
    return h("li", { class: "timeline-entry", "data-testid": "timeline-entry", "data-event": entry.event },
      h("time", { class: "muted small", datetime: entry.at }, timeOf(entry.at)),
      h("span", { class: "timeline-event" }, eventWords(entry.event)),
      entry.detail ? h("span", { class: "muted small" }, entry.detail) : null);
  }

  function paymentView(payment) {
    if (payment === "none") return h("p", { class: "muted small", "data-testid": "payments" }, "No payment recorded.");
    if (!payment || payment.error) {
      return h("p", { class: "message error small", "data-testid": "payments" }, `Payments unavailable: ${payment?.error || "no answer"}`);
    }
    const entries = [
      ...(payment.charges || []).map((e) => ["charge", e]),
      ...(payment.refunds || []).map((e) => ["refund", e]),
      ...(payment.declines || []).map((e) => ["declined", e]),
    ];
    return h("div", { "data-testid": "payments", "data-payment-status": payment.status },
      h("p", { class: "small" }, `${label(payment.status)}: ${dollars(payment.amountCents)}`),
      h("ul", { class: "payment-entries" }, entries.map(([kind, e]) =>
        h("li", { class: "small", "data-testid": "payment-entry", "data-kind": kind },
          `${label(kind)} ${dollars(e.amountCents)} at ${timeOf(e.at)}`, e.detail ? ` · ${e.detail}` : ""))));
  }

  // ---- the station queues (staff and managers) --------------------------------------------
  // Updated in place, one node per line id: a focused Complete button survives each refresh.

  const STATIONS = ["barista", "kitchen"];
  const completing = new Set(); // line ids with a completion in flight
  const queueErrors = new Map(); // station -> why its last completion failed
  const stationNodes = { barista: new Map(), kitchen: new Map() }; // line id -> <li>

  /** What an empty queue means depends on the shop's auto_fulfill setting. */
  function queueEmptyText() {
    if (!settings) return "Queue empty.";
    return settings.autoFulfill
      ? "Queue empty. Auto-fulfil is on: the station makes each item as soon as it arrives."
      : "Queue empty. Auto-fulfil is off: staff complete each item with its Complete button.";
  }

  function renderQueueEmpty(station, count) {
    const empty = $(`queue-${station}-empty`);
    empty.hidden = count > 0;
    setText(empty, queueEmptyText());
  }

  function queueError(station, text) {
    const el = $(`queue-${station}-error`);
    el.hidden = !text;
    setText(el, text || "");
  }

  function clearQueues() {
    queueErrors.clear();
    for (const station of STATIONS) {
      stationNodes[station].clear();
      $(`queue-${station}`).replaceChildren();
      renderQueueEmpty(station, 0);
      queueError(station, null);
    }
  }

  async function loadQueues() {
    if (!isStaff()) return IDLE_MS; // nothing to ask for: the panel is not shown
    const at = epoch;
    await Promise.all(STATIONS.map((station) => loadQueue(station, at)));
    return undefined;
  }

  async function loadQueue(station, at) {
    let tickets;
    try {
      tickets = await api("GET", `/v1/api/${station}/queue`);
    } catch (e) {
      if (at === epoch) queueError(station, `Queue unavailable: ${e.message}`);
      return;
    }
    if (at !== epoch) return;
    tickets = Array.isArray(tickets) ? tickets : [];
    queueError(station, queueErrors.get(station));
    syncList($(`queue-${station}`), stationNodes[station], tickets, (t) => t.lineId,
      (t) => ticketView(station, t), fillTicket);
    renderQueueEmpty(station, tickets.length);
  }

  /** A ticket's node, made once per line; fillTicket() keeps its text current. */
  function ticketView(station, t) {
    return h("li", { class: "ticket", "data-testid": "ticket", "data-line-id": t.lineId, "data-order-id": t.orderId },
      h("div", { class: "ticket-text" },
        h("span", { class: "ticket-name" }),
        h("span", { class: "muted small ticket-meta" })),
      h("span", { class: "badge small line-status", "data-testid": "line-status" }),
      h("button", {
        type: "button", class: "quiet", "data-testid": "complete",
        onclick: () => complete(station, t.lineId),
      }, "Complete"));
  }

  function fillTicket(el, t) {
    el.dataset.status = t.status;
    setText(el.querySelector(".ticket-name"), `${t.quantity || 1} × ${itemName(t.itemType)}`);
    setText(el.querySelector(".ticket-meta"), [`#${shortId(t.orderId)}`, timeOf(t.timeIn), t.madeBy ? `by ${t.madeBy}` : ""]
      .filter(Boolean).join(" · "));
    const status = el.querySelector(".line-status");
    setText(status, lineWord(t.status));
    status.className = `badge small line-status line-${slug(t.status)}`;
    const button = el.querySelector("button");
    button.disabled = completing.has(t.lineId);
    const name = `Complete ${itemName(t.itemType)} of order ${shortId(t.orderId)}`;
    if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
  }

  async function complete(station, lineId) {
    const at = epoch;
    completing.add(lineId);
    queueErrors.delete(station);
    queueError(station, null);
    try {
      await api("POST", `/v1/api/${station}/items/${encodeURIComponent(lineId)}/complete`);
    } catch (e) {
      if (at === epoch) {
        queueErrors.set(station, e.message);
        queueError(station, e.message);
      }
    } finally {
      completing.delete(lineId);
      queues.now();
      orders.now();
    }
  }

  // ---- the courier's deliveries (staff and managers) ----------------------------------------
  // The shipments waiting for a courier and those on the road, in one list kept in place (one
  // node per shipment, in scheduling order, so a status change moves nothing): a focused
  // button keeps its focus across refreshes, and a button that no longer applies hands its
  // focus to the one that does.

  const COURIER_STATUSES = ["SCHEDULED", "OUT_FOR_DELIVERY"];
  const shipmentNodes = new Map(); // shipment id -> <li>
  const shipments = new Map(); // shipment id -> the shipment last shown
  const shipping = new Set(); // shipment ids with a courier's report in flight
  let reportError = null; // why the last report failed: shown until the next one

  function courierError(text) {
    const el = $("courier-error");
    el.hidden = !text;
    setText(el, text || "");
  }

  function clearCourier() {
    shipmentNodes.clear();
    shipments.clear();
    shipping.clear();
    reportError = null;
    $("shipments").replaceChildren();
    $("shipments-empty").hidden = false;
    courierError(null);
  }

  async function loadCourier() {
    if (!isStaff()) return IDLE_MS;
    const at = epoch;
    let answers;
    try {
      answers = await Promise.all(COURIER_STATUSES.map((status) =>
        api("GET", `/v1/api/shipments?status=${status}`)));
    } catch (e) {
      if (at === epoch) courierError(`Deliveries unavailable: ${e.message}`);
      return SLOW_POLL_MS;
    }
    if (at !== epoch) return 0;
    courierError(reportError);
    const list = answers.flatMap((a) => (Array.isArray(a?.shipments) ? a.shipments : []));
    renderShipments(list);
    return undefined;
  }

  /** Newest scheduled first: the order a shipment keeps whatever its status. */
  function byScheduled(a, b) {
    return String(b.scheduledAt).localeCompare(String(a.scheduledAt)) || String(a.id).localeCompare(String(b.id));
  }

  function renderShipments(list) {
    list.sort(byScheduled);
    shipments.clear();
    for (const s of list) shipments.set(s.id, s);
    const container = $("shipments");
    const focusedAt = [...container.children].findIndex((li) => li.contains(document.activeElement));
    const focusedId = focusedAt >= 0 ? container.children[focusedAt].dataset.shipmentId : null;
    syncList(container, shipmentNodes, list, (s) => s.id, shipmentView, fillShipment);
    $("shipments-empty").hidden = list.length > 0;
    // A delivery done (delivered, failed) leaves the list: focus goes to the one now in its place.
    if (focusedId && !container.contains(document.activeElement)) {
      const node = shipmentNodes.get(focusedId) || container.children[Math.min(focusedAt, container.children.length - 1)];
      (node ? node.querySelector(".shipment-actions button:not([hidden])") : $("courier-title")).focus();
    }
  }

  /** A shipment's node, made once; fillShipment() keeps its words and buttons current. */
  function shipmentView(s) {
    const id = s.id;
    const reasonId = `fail-reason-${id}`;
    const el = h("li", { class: "shipment", "data-testid": "shipment", "data-shipment-id": id, "data-order-id": s.orderId },
      h("div", { class: "shipment-head" },
        h("div", { class: "shipment-text" },
          h("span", { class: "shipment-recipient" }),
          h("span", { class: "small shipment-address" }),
          h("span", { class: "muted small shipment-meta" })),
        h("span", { class: "badge small", "data-testid": "shipment-status" })),
      h("div", { class: "shipment-actions" },
        h("button", { type: "button", class: "primary", "data-testid": "picked-up", onclick: () => report(id, "picked-up") }, "Picked up"),
        h("button", { type: "button", class: "primary", "data-testid": "delivered", onclick: () => report(id, "delivered") }, "Delivered"),
        h("button", { type: "button", class: "danger", "data-testid": "failed", "aria-expanded": "false", "aria-controls": `fail-form-${id}`,
          onclick: () => openFailForm(el) }, "Failed")),
      h("form", { class: "fail-form", id: `fail-form-${id}`, "data-testid": "fail-form", novalidate: true, hidden: true,
        onsubmit: (event) => { event.preventDefault(); submitFailure(el, id); } },
        h("label", { for: reasonId }, "Why did it fail? ", h("span", { class: "muted small" }, "(required)")),
        h("input", { type: "text", id: reasonId, "data-testid": "fail-reason", maxlength: 200, required: true,
          "aria-describedby": `fail-error-${id}`, oninput: () => reasonError(el, null) }),
        h("p", { class: "field-error", id: `fail-error-${id}`, "data-testid": "field-error", hidden: true }),
        h("div", { class: "fail-buttons" },
          h("button", { type: "submit", class: "danger", "data-testid": "report-failure" }, "Report failure"),
          h("button", { type: "button", class: "quiet", "data-testid": "fail-cancel", onclick: () => closeFailForm(el) }, "Cancel"))));
    return el;
  }

  function fillShipment(el, s) {
    el.dataset.status = s.status;
    setText(el.querySelector(".shipment-recipient"), s.recipient);
    setText(el.querySelector(".shipment-address"), `${s.address} · ${s.postcode}`);
    setText(el.querySelector(".shipment-meta"), `#${shortId(s.orderId)} · scheduled ${timeOf(s.scheduledAt)}`);
    const badge = el.querySelector('[data-testid="shipment-status"]');
    setText(badge, deliveryWord(s.status));
    badge.className = `badge small delivery-${slug(s.status)}`;
    // While a report is in flight the buttons say so with aria-disabled (report() ignores them):
    // a disabled button would lose its focus.
    const busy = String(shipping.has(s.id));
    const who = `order ${shortId(s.orderId)} for ${s.recipient}`;
    for (const [testid, shown] of [["picked-up", s.status === "SCHEDULED"], ["delivered", s.status === "OUT_FOR_DELIVERY"], ["failed", true]]) {
      const button = el.querySelector(`[data-testid="${testid}"]`);
      button.hidden = !shown;
      button.setAttribute("aria-disabled", busy);
      const name = `${button.textContent}: ${who}`;
      if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
    }
    el.querySelector('[data-testid="report-failure"]').setAttribute("aria-disabled", busy);
    // Picked up, the focused "Picked up" button is hidden: its focus goes to "Delivered".
    if (el.contains(document.activeElement) && document.activeElement.hidden) {
      el.querySelector(".shipment-actions button:not([hidden])").focus();
    }
  }

  function openFailForm(el) {
    if (shipping.has(el.dataset.shipmentId)) return;
    el.querySelector(".fail-form").hidden = false;
    el.querySelector('[data-testid="failed"]').setAttribute("aria-expanded", "true");
    el.querySelector('[data-testid="fail-reason"]').focus();
  }

  function closeFailForm(el) {
    el.querySelector(".fail-form").hidden = true;
    reasonError(el, null);
    const failed = el.querySelector('[data-testid="failed"]');
    failed.setAttribute("aria-expanded", "false");
    failed.focus();
  }

  function reasonError(el, text) {
    const input = el.querySelector('[data-testid="fail-reason"]');
    const error = el.querySelector(".fail-form .field-error");
    error.hidden = !text;
    setText(error, text || "");
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  function submitFailure(el, id) {
    const input = el.querySelector('[data-testid="fail-reason"]');
    const reason = input.value.trim();
    if (!reason) {
      reasonError(el, "Say why the delivery failed.");
      input.focus();
      return;
    }
    report(id, "failed", { reason }, el);
  }

  /** The courier's report: picked-up, delivered or failed (with `body.reason`). A refused
   *  reason is shown beside its input (`el`), any other problem under the list. */
  async function report(id, what, body, el) {
    if (shipping.has(id)) return;
    const at = epoch;
    shipping.add(id);
    reportError = null;
    courierError(null);
    redrawShipment(id);
    try {
      const s = await api("POST", `/v1/api/shipments/${encodeURIComponent(id)}/${what}`, { body });
      if (at === epoch && s) announce(`Order ${shortId(s.orderId)}: ${deliveryWord(s.status)}.`);
    } catch (e) {
      if (at !== epoch) return;
      const reason = (e.problem?.errors || []).find((x) => x && x.pointer === "/reason");
      if (reason && el) {
        reasonError(el, String(reason.detail));
      } else {
        reportError = e.message;
        courierError(reportError);
      }
    } finally {
      shipping.delete(id);
      redrawShipment(id);
      courier.now();
      orders.now();
      detail.now();
    }
  }

  function redrawShipment(id) {
    const el = shipmentNodes.get(id);
    if (el && shipments.has(id)) fillShipment(el, shipments.get(id));
  }

  // ---- operations (operators) --------------------------------------------------------------
  // The event queues' depths, the dead letters (each with Replay) and the stock levels.

  const deadLetterNodes = new Map(); // dead letter id -> <li>
  const replaying = new Set(); // dead letter ids with a replay in flight

  function clearOperations() {
    deadLetterNodes.clear();
    replaying.clear();
    $("ops-queues").replaceChildren();
    $("ops-stock").replaceChildren();
    $("ops-dead-letters").replaceChildren();
    $("ops-dead-count").textContent = "";
    $("ops-dead-empty").hidden = false;
    opsNote("ops-error", null);
    opsNote("ops-message", null);
  }

  function opsNote(id, text, kind) {
    const el = $(id);
    el.hidden = !text;
    setText(el, text || "");
    if (kind) el.className = `message small ${kind}`;
  }

  async function loadOperations() {
    if (!isOperator()) return IDLE_MS;
    const at = epoch;
    let answers;
    try {
      answers = await Promise.all([
        api("GET", "/v1/api/events/queues"),
        api("GET", `/v1/api/events/dead-letters?limit=${DEAD_LETTERS_SHOWN}`),
        api("GET", "/v1/api/inventory"),
      ]);
    } catch (e) {
      if (at === epoch) opsNote("ops-error", `Operations paused: ${e.message}`);
      return SLOW_POLL_MS;
    }
    if (at !== epoch) return 0;
    const [depths, letters, stock] = answers;
    opsNote("ops-error", null);
    renderQueueDepths(depths);
    renderDeadLetters(Array.isArray(letters?.deadLetters) ? letters.deadLetters : []);
    renderStock(Array.isArray(stock?.items) ? stock.items : []);
    return OPS_POLL_MS;
  }

  /** A table row of plain cells (nothing in it takes focus: it may be redrawn). */
  function row(testid, cells) {
    return h("tr", { "data-testid": testid }, cells.map((c, i) => h(i ? "td" : "th", i ? {} : { scope: "row" }, c)));
  }

  function renderQueueDepths(depths) {
    const queues = Array.isArray(depths?.queues) ? depths.queues : [];
    $("ops-queues").replaceChildren(...queues.map((q) =>
      row("ops-queue", [q.channel, q.unacknowledged, q.inFlight])));
    const count = Number(depths?.deadLetters) || 0;
    setText($("ops-dead-count"), `${count} dead letter${count === 1 ? "" : "s"} in all.`);
  }

  function renderStock(items) {
    $("ops-stock").replaceChildren(...items.map((item) =>
      row("ops-stock-item", [label(item.name), item.available, item.reserved])));
  }

  function renderDeadLetters(letters) {
    syncList($("ops-dead-letters"), deadLetterNodes, letters, (l) => l.id, deadLetterView, fillDeadLetter);
    $("ops-dead-empty").hidden = letters.length > 0;
  }

  function deadLetterView(letter) {
    return h("li", { class: "dead-letter", "data-testid": "dead-letter", "data-id": letter.id },
      h("div", { class: "dead-letter-text" },
        h("span", { class: "dead-letter-channel" }),
        h("span", { class: "muted small dead-letter-meta" }),
        h("code", { class: "dead-letter-payload small" })),
      h("button", {
        type: "button", "data-testid": "replay", "aria-label": `Replay dead letter ${letter.id}`,
        onclick: () => replay(letter.id),
      }, "Replay"));
  }

  function fillDeadLetter(el, letter) {
    setText(el.querySelector(".dead-letter-channel"), letter.channel);
    setText(el.querySelector(".dead-letter-meta"),
      `${letter.attempts} attempt${letter.attempts === 1 ? "" : "s"} · failed ${timeOf(letter.failedAt)} · ${letter.error}`);
    const payload = String(letter.payload || "");
    setText(el.querySelector(".dead-letter-payload"), payload.length > 160 ? `${payload.slice(0, 160)}…` : payload);
    el.querySelector("button").disabled = replaying.has(letter.id);
  }

  async function replay(id) {
    const at = epoch;
    replaying.add(id);
    operations.now();
    try {
      const letter = await api("POST", `/v1/api/events/dead-letters/${encodeURIComponent(id)}/replay`);
      if (at !== epoch) return;
      const text = `Replayed: the event was sent again on ${letter?.channel || "its channel"}.`;
      opsNote("ops-message", text, "ok");
      announce(text);
    } catch (e) {
      if (at === epoch) opsNote("ops-message", `Replay failed: ${e.message}`, "error");
    } finally {
      replaying.delete(id);
      operations.now();
    }
  }

  // ---- the notifications feed -------------------------------------------------------------
  // Staff and managers follow the whole feed from a cursor kept in sessionStorage (a reload
  // continues); everyone else follows their newest order's steps (`?orderId=`), in memory.

  const seen = new Set();
  let feedItems = [];
  let orderFeed = { id: null, cursor: "0" }; // the one order followed when not staff

  /** Forgets the kept feed and its cursor (the session changed). */
  function forgetFeed() {
    storageRemove(sessionStorage, CURSOR_KEY);
    storageRemove(sessionStorage, FEED_KEY);
  }

  function clearFeedView() {
    seen.clear();
    feedItems = [];
    orderFeed = { id: null, cursor: "0" };
    $("feed").replaceChildren();
    $("feed-note").hidden = true;
  }

  function restoreFeed() {
    try {
      const saved = JSON.parse(storageGet(sessionStorage, FEED_KEY) || "[]");
      if (Array.isArray(saved)) feedItems = saved.slice(0, FEED_KEEP);
    } catch (_) {
      feedItems = [];
    }
    for (const n of feedItems) seen.add(n.id ?? n.cursor);
    $("feed").replaceChildren(...feedItems.map(feedView));
  }

  function feedView(n) {
    const status = n.status ? String(n.status) : "";
    return h("li", { class: "note", "data-testid": "notification", "data-order-id": n.orderId },
      h("div", { class: "note-head" },
        h("span", { class: "note-event" }, eventWords(n.event)),
        h("time", { class: "muted small", datetime: n.occurredAt }, timeOf(n.occurredAt))),
      h("div", { class: "note-body small" },
        n.orderId ? h("span", { class: "order-id" }, `#${shortId(n.orderId)}`) : null,
        status ? badge(status, "small") : null,
        n.detail ? h("span", { class: "muted" }, n.detail) : null));
  }

  function feedNote(text) {
    const note = $("feed-note");
    note.hidden = !text;
    note.textContent = text || "";
  }

  /** Shows the entries of `answer` not shown yet; true if there were any. */
  function addFeedItems(answer, keep) {
    const fresh = (Array.isArray(answer?.notifications) ? answer.notifications : [])
      .filter((n) => !seen.has(n.id ?? n.cursor));
    if (!fresh.length) return false;
    for (const n of fresh) seen.add(n.id ?? n.cursor);
    // The feed is oldest first; the page shows the newest at the top.
    const newestFirst = fresh.slice().reverse();
    feedItems = newestFirst.concat(feedItems).slice(0, FEED_KEEP);
    const list = $("feed");
    list.prepend(...newestFirst.map(feedView));
    while (list.children.length > FEED_KEEP) list.lastElementChild.remove();
    if (keep) storageSet(sessionStorage, FEED_KEY, JSON.stringify(feedItems));
    return true;
  }

  function nextCursor(answer) {
    const list = Array.isArray(answer?.notifications) ? answer.notifications : [];
    const next = answer?.next ?? (list.length ? list[list.length - 1].cursor : null);
    return next === null || next === undefined ? null : String(next);
  }

  async function loadFeed() {
    return isStaff() ? loadWholeFeed() : loadOrderFeed();
  }

  async function loadWholeFeed() {
    const at = epoch;
    const cursor = storageGet(sessionStorage, CURSOR_KEY);
    // A session without a cursor starts at the newest entries, not at the oldest one kept.
    const path = cursor
      ? `/v1/api/notifications?after=${encodeURIComponent(cursor)}`
      : `/v1/api/notifications?newest=true&limit=${FEED_KEEP}`;
    let answer;
    try {
      answer = await api("GET", path);
    } catch (e) {
      if (at !== epoch) return 0;
      feedNote(e.status === 404 ? "Feed unavailable." : `Feed paused: ${e.message}`);
      return SLOW_POLL_MS;
    }
    if (at !== epoch) return 0;
    feedNote(null);
    const added = addFeedItems(answer, true);
    const next = nextCursor(answer);
    if (next !== null && next !== cursor) {
      storageSet(sessionStorage, CURSOR_KEY, next);
      // More may be waiting: a full page is followed at once.
      if (added) return 50;
    }
    return POLL_MS;
  }

  async function loadOrderFeed() {
    const at = epoch;
    const id = myOrderIds()[0] || null;
    if (id !== orderFeed.id) {
      clearFeedView();
      orderFeed = { id, cursor: "0" };
    }
    if (!id) {
      $("feed-scope").textContent = "Place an order to follow its steps here.";
      return IDLE_MS;
    }
    $("feed-scope").textContent = `The steps of your newest order, #${shortId(id)}.`;
    const cursor = orderFeed.cursor;
    let answer;
    try {
      answer = await api("GET",
        `/v1/api/notifications?orderId=${encodeURIComponent(id)}&after=${encodeURIComponent(cursor)}`);
    } catch (e) {
      if (at !== epoch || orderFeed.id !== id) return 0;
      feedNote(`Feed paused: ${e.message}`);
      return SLOW_POLL_MS;
    }
    if (at !== epoch || orderFeed.id !== id) return 0;
    feedNote(null);
    addFeedItems(answer, false);
    const next = nextCursor(answer);
    if (next !== null) orderFeed.cursor = next;
    // A finished order has no more steps to come: look rarely.
    return TERMINAL.has(mine.get(id)?.order.orderStatus) ? SLOW_POLL_MS : POLL_MS;
  }

  // ---- start ----------------------------------------------------------------------------

  let orders = { now() {} };
  let queues = { now() {} };
  let courier = { now() {} };
  let feed = { now() {} };
  let sessionCheck = { now() {} };
  let operations = { now() {} };
  let detail = { now() {} };

  function start() {
    $("member-id").textContent = memberId();
    $("place-order").addEventListener("click", placeOrder);
    $("choose-pickup").addEventListener("click", () => chooseDelivery(false));
    $("choose-delivery").addEventListener("click", () => chooseDelivery(true));
    // Enter in a delivery field places the order, as the button does.
    $("delivery-form").addEventListener("submit", (event) => { event.preventDefault(); placeOrder(); });
    for (const field of DELIVERY_FIELDS) {
      $(`delivery-${field}`).addEventListener("input", () => showFieldError(field, null));
    }
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    for (const tab of document.querySelectorAll("#sections [data-show]")) {
      tab.addEventListener("click", () => showSection(tab.dataset.show));
    }
    $("detail-close").addEventListener("click", closeDetail);
    $("order-dialog").addEventListener("close", detailClosed);
    // Four times a second: a count-down never lags its clock by more than a quarter second
    // (setText writes only when the words change, once a second).
    setInterval(tickCountdowns, COUNTDOWN_TICK_MS);
    renderSession();
    renderHandover();
    poll(loadSettings, () => SLOW_POLL_MS);
    let menuLoaded = false;
    poll(async () => {
      if (menuLoaded) return 60 * 60 * 1000;
      menuLoaded = await loadMenu();
      return menuLoaded ? 60 * 60 * 1000 : 2000;
    }, () => 2000);
    // Polls ask only for what the current caller may see (each checks the session).
    restoreSession().finally(() => {
      orders = poll(loadBoard, () => POLL_MS);
      queues = poll(loadQueues, () => POLL_MS);
      courier = poll(loadCourier, () => POLL_MS);
      feed = poll(loadFeed, () => POLL_MS);
      sessionCheck = poll(checkSession, () => SESSION_CHECK_MS);
      operations = poll(loadOperations, () => OPS_POLL_MS);
      detail = poll(loadDetail, () => DETAIL_POLL_MS);
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden) { orders.now(); queues.now(); courier.now(); }
      });
    });
  }

  start();
})();
