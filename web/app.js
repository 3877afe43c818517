// The coffee shop's live page: the menu and a basket, the order board, the station queues and
// the notifications feed. Plain browser JavaScript, no build step, no network assets.
"use strict";

(function () {
  const POLL_MS = 1000;
  const SLOW_POLL_MS = 5000;
  const MAX_QUANTITY = 20;
  const FEED_KEEP = 100;
  const MEMBER_KEY = "coffeeshop.loyaltyMemberId";
  const CURSOR_KEY = "coffeeshop.notifications.cursor";
  const FEED_KEY = "coffeeshop.notifications.items";

  const ORDER_STATUSES = [
    "PLACED", "AWAITING_APPROVAL", "IN_PROGRESS", "READY",
    "FULFILLED", "REJECTED", "CANCELLED", "EXPIRED",
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

  function shortId(id) {
    return String(id || "").slice(0, 8);
  }

  function timeOf(iso) {
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
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

  /** Calls the API; resolves with the JSON answer (or null), rejects with an ApiError. */
  async function api(method, path, body, headers) {
    const init = { method, headers: { accept: "application/json", ...(headers || {}) } };
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
    if (!response.ok) throw new ApiError(response.status, json);
    return json;
  }

  let connected = null;
  function setConnection(ok) {
    if (connected === ok) return;
    connected = ok;
    const el = $("connection");
    el.classList.toggle("ok", ok);
    el.classList.toggle("down", !ok);
    el.querySelector(".connection-text").textContent = ok ? "live" : "shop unreachable, retrying…";
  }

  /** Runs `task` now and then again `delay()` ms after each run ends (never overlapping). */
  function poll(task, delay) {
    let timer = null;
    const run = async () => {
      clearTimeout(timer);
      timer = null;
      let next;
      try {
        next = await task();
      } catch (e) {
        if (!(e instanceof ApiError)) console.error(e);
      }
      const ms = typeof next === "number" ? next : delay();
      timer = setTimeout(run, document.hidden ? Math.max(ms, SLOW_POLL_MS) : ms);
    };
    run();
    return { now: () => { if (timer !== null) run(); } };
  }

  // ---- the menu and the basket ----------------------------------------------------------

  const catalog = new Map(); // itemType number -> catalog entry
  const catalogByName = new Map(); // name -> catalog entry
  const basket = new Map(); // itemType number -> quantity
  let placing = false;

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
    return h("li", { class: "menu-item", "data-testid": `menu-item-${entry.name}` },
      h("div", { class: "menu-item-text" },
        h("span", { class: "menu-item-name" }, name),
        h("span", { class: "menu-item-price" }, dollars(entry.priceCents))),
      h("div", { class: "stepper", role: "group", "aria-label": `${name} quantity` },
        h("button", {
          type: "button", class: "step", "data-testid": `remove-${entry.name}`,
          "aria-label": `Remove one ${name}`, "data-item-type": entry.itemType,
          onclick: () => change(entry.itemType, -1),
        }, "−"),
        h("output", {
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

  function basketTotal() {
    let cents = 0;
    for (const [itemType, quantity] of basket) cents += (catalog.get(itemType)?.priceCents || 0) * quantity;
    return cents;
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
    $("basket-total").textContent = dollars(basketTotal());
    $("place-order").disabled = placing || basket.size === 0;
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
      timestamp: new Date().toISOString(),
    };
    placing = true;
    renderBasket();
    $("place-order").textContent = "Placing…";
    try {
      // One key per attempt: a network retry of this same POST cannot place it twice.
      const order = await api("POST", "/v1/api/orders", request, { "idempotency-key": uuid() });
      basket.clear();
      showOrderMessage("ok", `Order ${shortId(order.id)} placed: ${dollars(order.totalCents)}`, order.id);
      orders.now();
      queues.now();
    } catch (e) {
      showOrderMessage("error", e.message);
    } finally {
      placing = false;
      $("place-order").textContent = "Place order";
      renderBasket();
    }
  }

  // ---- the order board ----------------------------------------------------------------

  const cards = new Map(); // order id -> { el, signature }
  const cardErrors = new Map(); // order id -> message shown on the card
  const busy = new Set(); // order ids with an action in flight

  function badge(status, extra) {
    const known = ORDER_STATUSES.includes(status) ? status : "UNKNOWN";
    return h("span", { class: `badge status-${known.toLowerCase().replace(/_/g, "-")} ${extra || ""}` },
      label(status));
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
    if (status === "READY") button("Pick up", "pickup", "primary", "pickup");
    if (status === "AWAITING_APPROVAL") {
      button("Approve", "approve", "primary", "approve");
      button("Reject", "reject", "danger", "reject");
    }
    if (status === "PLACED" || status === "AWAITING_APPROVAL") button("Cancel", "cancel", "quiet", "cancel");
    return buttons;
  }

  async function orderAction(id, action) {
    const path = {
      pickup: [`/v1/api/orders/${encodeURIComponent(id)}/pickup`],
      cancel: [`/v1/api/orders/${encodeURIComponent(id)}/cancel`],
      approve: [`/v1/api/orders/${encodeURIComponent(id)}/approve`, { approver: "web", approved: true }],
      reject: [`/v1/api/orders/${encodeURIComponent(id)}/approve`, { approver: "web", approved: false }],
    }[action];
    busy.add(id);
    cardErrors.delete(id);
    refreshCard(id);
    try {
      await api("POST", path[0], path[1]);
    } catch (e) {
      cardErrors.set(id, e.message);
      setTimeout(() => {
        if (cardErrors.get(id) === e.message) { cardErrors.delete(id); refreshCard(id); }
      }, 10000);
    } finally {
      busy.delete(id);
      orders.now();
      queues.now();
    }
  }

  function lineView(line) {
    const name = line.name ? label(line.name) : itemName(line.itemType);
    return h("li", { class: "line", "data-testid": "order-line", "data-status": line.itemStatus },
      h("span", { class: "line-name" }, `${line.quantity || 1} × ${name}`),
      h("span", { class: `badge small line-status status-${String(line.itemStatus || "").toLowerCase().replace(/_/g, "-")}` },
        label(line.itemStatus)));
  }

  let latestOrders = new Map();

  function cardView(order) {
    const lines = Array.isArray(order.lineItems) ? order.lineItems : [];
    const error = cardErrors.get(order.id);
    return h("li", {
      class: `order-card card-${String(order.orderStatus).toLowerCase().replace(/_/g, "-")}`,
      "data-testid": "order-card", "data-order-id": order.id, "data-status": order.orderStatus,
      "aria-label": `Order ${shortId(order.id)}, ${label(order.orderStatus)}`,
    },
      h("div", { class: "card-head" },
        h("span", { class: "order-id", title: order.id }, `#${shortId(order.id)}`),
        badge(order.orderStatus)),
      h("ul", { class: "lines" }, lines.map(lineView)),
      h("div", { class: "card-foot" },
        h("span", { class: "muted small" }, [timeOf(order.createdAt), order.orderSource ? label(order.orderSource) : ""]
          .filter(Boolean).join(" · ")),
        h("span", { class: "order-total", "data-testid": "order-total" }, dollars(order.totalCents))),
      error ? h("p", { class: "message error small", role: "alert", "data-testid": "order-error" }, error) : null,
      h("div", { class: "actions" }, orderActions(order)));
  }

  function signatureOf(order) {
    return JSON.stringify([order.orderStatus, order.totalCents, order.lineItems,
      cardErrors.get(order.id) || "", busy.has(order.id)]);
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

  async function loadOrders() {
    const page = await api("GET", "/v1/api/fulfillment-orders?pageSize=20");
    const list = Array.isArray(page?.orders) ? page.orders : [];
    latestOrders = new Map(list.map((o) => [o.id, o]));
    const container = $("orders");
    const keep = new Set();
    let previous = null;
    for (const order of list) {
      keep.add(order.id);
      let card = cards.get(order.id);
      const signature = signatureOf(order);
      if (!card) {
        card = { el: cardView(order), signature };
        card.el.classList.add("new"); // only a newly listed order slides in
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
    const total = typeof page?.total === "number" ? page.total : list.length;
    $("board-count").textContent = total > list.length
      ? `newest ${list.length} of ${total}` : `${total} order${total === 1 ? "" : "s"}`;
  }

  // ---- the station queues ---------------------------------------------------------------

  const completing = new Set(); // line ids with a completion in flight
  const queueErrors = new Map(); // station -> message

  async function loadQueue(station) {
    const list = $(`queue-${station}`);
    const empty = $(`queue-${station}-empty`);
    let tickets;
    try {
      tickets = await api("GET", `/v1/api/${station}/queue`);
    } catch (e) {
      empty.hidden = false;
      empty.textContent = `Queue unavailable: ${e.message}`;
      return;
    }
    tickets = Array.isArray(tickets) ? tickets : [];
    empty.hidden = tickets.length > 0;
    empty.textContent = "Queue empty (auto-fulfil on: queues empty quickly)";
    const error = queueErrors.get(station);
    list.replaceChildren(
      ...tickets.map((t) => h("li", {
        class: "ticket", "data-testid": "ticket", "data-line-id": t.lineId, "data-order-id": t.orderId,
        "data-status": t.status,
      },
        h("div", { class: "ticket-text" },
          h("span", { class: "ticket-name" }, `${t.quantity || 1} × ${itemName(t.itemType)}`),
          h("span", { class: "muted small" },
            [`#${shortId(t.orderId)}`, timeOf(t.timeIn), t.madeBy ? `by ${t.madeBy}` : ""]
              .filter(Boolean).join(" · "))),
        h("button", {
          type: "button", class: "quiet", "data-testid": "complete",
          disabled: completing.has(t.lineId),
          "aria-label": `Complete ${itemName(t.itemType)} of order ${shortId(t.orderId)}`,
          onclick: () => complete(station, t.lineId),
        }, "Complete"))),
      ...(error ? [h("li", { class: "message error small", role: "alert" }, error)] : []));
  }

  async function complete(station, lineId) {
    completing.add(lineId);
    queueErrors.delete(station);
    try {
      await api("POST", `/v1/api/${station}/items/${encodeURIComponent(lineId)}/complete`);
    } catch (e) {
      queueErrors.set(station, e.message);
    } finally {
      completing.delete(lineId);
      queues.now();
      orders.now();
    }
  }

  // ---- the notifications feed -------------------------------------------------------------

  const seen = new Set();
  let feedItems = [];
  let feedAvailable = true;

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
        h("span", { class: "note-event" }, label(n.event)),
        h("time", { class: "muted small", datetime: n.occurredAt }, timeOf(n.occurredAt))),
      h("div", { class: "note-body small" },
        n.orderId ? h("span", { class: "order-id" }, `#${shortId(n.orderId)}`) : null,
        status ? badge(status, "small") : null,
        n.detail ? h("span", { class: "muted" }, n.detail) : null));
  }

  async function loadFeed() {
    const cursor = storageGet(sessionStorage, CURSOR_KEY);
    const path = cursor ? `/v1/api/notifications?after=${encodeURIComponent(cursor)}` : "/v1/api/notifications";
    let answer;
    try {
      answer = await api("GET", path);
    } catch (e) {
      const note = $("feed-note");
      note.hidden = false;
      if (e.status === 404) {
        feedAvailable = false;
        note.textContent = "Feed unavailable.";
      } else {
        note.textContent = `Feed paused: ${e.message}`;
      }
      return SLOW_POLL_MS;
    }
    if (!feedAvailable || !$("feed-note").hidden) {
      feedAvailable = true;
      $("feed-note").hidden = true;
    }
    const fresh = (Array.isArray(answer?.notifications) ? answer.notifications : [])
      .filter((n) => !seen.has(n.id ?? n.cursor));
    if (fresh.length) {
      for (const n of fresh) seen.add(n.id ?? n.cursor);
      // The feed is oldest first; the page shows the newest at the top.
      const newestFirst = fresh.slice().reverse();
      feedItems = newestFirst.concat(feedItems).slice(0, FEED_KEEP);
      $("feed").prepend(...newestFirst.map(feedView));
      const list = $("feed");
      while (list.children.length > FEED_KEEP) list.lastElementChild.remove();
      storageSet(sessionStorage, FEED_KEY, JSON.stringify(feedItems));
    }
    const next = answer?.next ?? (fresh.length ? fresh[fresh.length - 1].cursor : null);
    if (next !== null && next !== undefined && String(next) !== cursor) {
      storageSet(sessionStorage, CURSOR_KEY, String(next));
      // More may be waiting: a full page is followed at once.
      if (fresh.length) return 50;
    }
    return POLL_MS;
  }

  // ---- start ----------------------------------------------------------------------------

  let orders = { now() {} };
  let queues = { now() {} };

  function start() {
    $("member-id").textContent = memberId();
    $("place-order").addEventListener("click", placeOrder);
    restoreFeed();
    let menuLoaded = false;
    poll(async () => {
      if (menuLoaded) return 60 * 60 * 1000;
      menuLoaded = await loadMenu();
      return menuLoaded ? 60 * 60 * 1000 : 2000;
    }, () => 2000);
    orders = poll(loadOrders, () => POLL_MS);
    queues = poll(() => Promise.all([loadQueue("barista"), loadQueue("kitchen")]), () => POLL_MS);
    poll(loadFeed, () => POLL_MS);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) { orders.now(); queues.now(); }
    });
  }

  start();
})();
