/*
 * payfirst storefront: plain JavaScript over the public JSON API (no build step, no framework).
 *
 * What a merchant's front end should copy from here:
 * - Money is integer paise end to end; it becomes text only in money() below, with Indian digit grouping
 *   (₹1,23,456.00) and no float arithmetic.
 * - Every POST that creates a payment carries an Idempotency-Key that stays the same across retries of one attempt,
 *   so a retried request after a lost answer returns the first payment instead of making a second one.
 * - Network failures, 502, 503 and 429 are retried with backoff (with the same key); other errors are shown as the
 *   API's human message.
 * - Tokens: the access token lives in memory only (the variable `access` below); the refresh token sits in an
 *   HttpOnly SameSite=Strict cookie that only /session/ sees. Nothing goes into localStorage or sessionStorage.
 * - Nothing the API returns is put into the page as HTML: text goes in with textContent.
 */
(function () {
  "use strict";

  // ---- money and dates -------------------------------------------------------------------------------------------

  /** "₹1,23,456.00" from integer paise, with Indian grouping (last three digits, then pairs). */
  function money(paise) {
    if (typeof paise !== "number" || !Number.isSafeInteger(paise)) { return "—"; }
    var negative = paise < 0;
    var digits = String(Math.abs(paise));
    while (digits.length < 3) { digits = "0" + digits; }
    var rupees = digits.slice(0, -2);
    var fraction = digits.slice(-2);
    var grouped = rupees;
    if (rupees.length > 3) {
      var head = rupees.slice(0, -3);
      var tail = rupees.slice(-3);
      grouped = head.replace(/\B(?=(\d{2})+(?!\d))/g, ",") + "," + tail;
    }
    return (negative ? "−" : "") + "₹" + grouped + "." + fraction;
  }

  var MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December"];

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function isoDate(year, month, day) { return year + "-" + pad(month) + "-" + pad(day); }

  /** "Sat, 12 December 2026" from "2026-12-12" (read as a calendar date, never shifted by time zones). */
  function longDate(iso) {
    var p = iso.split("-").map(Number);
    var weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][new Date(Date.UTC(p[0], p[1] - 1, p[2])).getUTCDay()];
    return weekday + ", " + p[2] + " " + MONTHS[p[1] - 1] + " " + p[0];
  }

  /** "10:30 am" from "10:30". */
  function clock(hhmm) {
    var h = Number(hhmm.slice(0, 2));
    return (h % 12 || 12) + ":" + hhmm.slice(3, 5) + (h < 12 ? " am" : " pm");
  }

  function dateTime(iso) {
    var d = new Date(iso);
    return d.toLocaleString("en-IN", { dateStyle: "medium", timeStyle: "short" });
  }

  // ---- DOM helpers -----------------------------------------------------------------------------------------------

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /** el("p", {class: "x"}, "text", child…): an element with attributes and text/children (never HTML). */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === false || value === null || value === undefined) { return; }
      if (name === "text") { node.textContent = value; } else if (name.slice(0, 2) === "on") {
        node.addEventListener(name.slice(2), value);
      } else { node.setAttribute(name, value === true ? "" : value); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) { continue; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }

  function flash(message, kind) {
    var box = $("[data-flash]");
    box.textContent = message;
    box.className = "flash " + (kind || "bad");
    box.hidden = !message;
    if (message) { box.scrollIntoView({ block: "nearest" }); }
  }

  function showError(box, error) {
    box.textContent = "";
    box.appendChild(el("p", { text: error.message }));
    var fields = error.fields || {};
    var names = Object.keys(fields);
    if (names.length) {
      var list = el("ul");
      names.forEach(function (name) {
        fields[name].forEach(function (text) { list.appendChild(el("li", { text: name.replace(/_/g, " ") + ": " + text })); });
      });
      box.appendChild(list);
    }
    box.hidden = false;
  }

  function params() { return new URLSearchParams(window.location.search); }

  /** Only same-site paths are followed after sign-in (never an open redirect). */
  function safeNext(fallback) {
    var next = params().get("next") || "";
    return /^\/(?!\/)[\w\-\/.?=&%]*$/.test(next) ? next : fallback;
  }

  // ---- the API client --------------------------------------------------------------------------------------------

  var access = null; // the access token: memory only

  function ApiError(status, body) {
    var error = (body && body.error) || {};
    this.status = status;
    this.code = error.code || "network_error";
    this.message = error.message || "Something went wrong; please try again.";
    this.fields = error.fields || null;
  }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  var RETRYABLE = { 429: true, 502: true, 503: true, 504: true };

  /**
   * api("POST", "/api/cart/add/", body, {idempotencyKey}) → the parsed JSON, or throws ApiError.
   * GETs and requests with an idempotency key are retried (3 tries, backoff); a 401 refreshes the token once.
   */
  async function api(method, path, body, options) {
    options = options || {};
    var safe = method === "GET" || Boolean(options.idempotencyKey) || options.retry;
    var tries = safe ? 3 : 1;
    var refreshed = false;
    for (var attempt = 1; ; attempt++) {
      var headers = { "Accept": "application/json" };
      if (body !== undefined) { headers["Content-Type"] = "application/json"; }
      if (access && !options.anonymous) { headers["Authorization"] = "Bearer " + access; }
      if (options.idempotencyKey) { headers["Idempotency-Key"] = options.idempotencyKey; }
      var response;
      try {
        response = await fetch(path, {
          method: method, headers: headers, credentials: "same-origin",
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (networkError) {
        if (attempt < tries) { await wait(400 * attempt); continue; }
        throw new ApiError(0, { error: { code: "network_error", message: "Could not reach the shop. Check your connection and try again." } });
      }
      if (response.status === 401 && access && !refreshed && !options.anonymous) {
        refreshed = true;
        if (await refreshAccess()) { attempt--; continue; }
      }
      if (RETRYABLE[response.status] && attempt < tries) {
        var after = Number(response.headers.get("Retry-After")) || attempt;
        await wait(Math.min(after, 5) * 1000);
        continue;
      }
      if (response.status === 204) { return null; }
      var data = null;
      try { data = await response.json(); } catch (notJson) { data = null; }
      if (!response.ok) { throw new ApiError(response.status, data); }
      return data;
    }
  }

  /**
   * The payment's GST documents (tax invoice, bill of supply, credit notes) as buttons that open the PDF. The PDF
   * endpoint wants the bearer token like every API call, so it is fetched here and shown from a blob URL.
   */
  async function documentButtons(paymentId) {
    var page = await api("GET", "/api/invoices/?payment_id=" + encodeURIComponent(paymentId));
    return page.results.map(function (doc) {
      var button = el("button", { type: "button", class: "link", text: doc.title + " " + doc.number + " (PDF)" });
      button.addEventListener("click", async function () {
        var opened = window.open("", "_blank");
        var response = await fetch("/api/invoices/" + doc.id + "/pdf/", { headers: { "Authorization": "Bearer " + access } });
        if (!response.ok) { if (opened) { opened.close(); } flash("That document could not be opened. Try again.", "bad"); return; }
        var url = URL.createObjectURL(await response.blob());
        if (opened) { opened.location.href = url; } else { window.location.href = url; }
      });
      return button;
    });
  }

  /** Every page of a list endpoint. */
  async function all(path) {
    var results = [];
    var url = path;
    while (url) {
      var page = await api("GET", url);
      results = results.concat(page.results);
      url = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
    }
    return results;
  }

  // ---- session: the refresh token in an HttpOnly cookie, the access token in memory ----------------------------

  async function refreshAccess() {
    try {
      var response = await fetch("/session/refresh/", { method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json", "Content-Type": "application/json" } });
      if (!response.ok) { access = null; return false; }
      access = (await response.json()).access;
      return true;
    } catch (e) { access = null; return false; }
  }

  async function signIn(email, password) {
    var tokens = await api("POST", "/api/auth/token/", { email: email, password: password }, { anonymous: true });
    var kept = await fetch("/session/", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh: tokens.refresh }) });
    if (!kept.ok) { throw new ApiError(kept.status, null); }
    access = tokens.access; // the refresh token is not kept in script: it lives on in the cookie only
  }

  async function signOut() {
    await fetch("/session/", { method: "DELETE", credentials: "same-origin" });
    access = null;
    window.location.assign("/");
  }

  function requireSignIn() {
    if (access) { return true; }
    window.location.assign("/signin/?next=" + encodeURIComponent(window.location.pathname + window.location.search));
    return false;
  }

  function showSession() {
    $all("[data-signed-in]").forEach(function (node) { node.hidden = !access; });
    $all("[data-signed-out]").forEach(function (node) { node.hidden = Boolean(access); });
  }

  async function showCartCount() {
    var badge = $("[data-cart-count]");
    if (!access) { badge.hidden = true; return; }
    try {
      var cart = await api("GET", "/api/cart/");
      badge.textContent = String(cart.items_count);
      badge.hidden = cart.items_count === 0;
      $("[data-cart-link]").setAttribute("aria-label", "Cart, " + cart.items_count + " items");
    } catch (e) { badge.hidden = true; }
  }

  // ---- pages -----------------------------------------------------------------------------------------------------

  var pages = {};

  pages.catalog = async function () {
    var form = $("[data-search-form]");
    var input = $("#search-input");
    var pageNumber = Number(params().get("page")) || 1;
    input.value = params().get("q") || "";
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = input.value.trim();
      window.location.assign(q ? "/?q=" + encodeURIComponent(q) : "/");
    });
    var status = $("[data-products-status]");
    var list = $("[data-products]");
    try {
      var query = "?page=" + pageNumber + (input.value ? "&search=" + encodeURIComponent(input.value) : "");
      var page = await api("GET", "/api/catalog/products/" + query, undefined, { anonymous: true });
      status.textContent = page.count ? (input.value ? page.count + " products match “" + input.value + "”." : "")
        : (input.value ? "Nothing matches “" + input.value + "”. Try another word." : "No products yet.");
      status.hidden = !status.textContent;
      page.results.forEach(function (product) {
        var prices = product.variants.map(function (v) { return v.price; });
        var from = prices.length ? Math.min.apply(null, prices) : null;
        var inStock = product.variants.some(function (v) { return v.in_stock; });
        list.appendChild(el("li", { class: "card" },
          el("h3", {}, el("a", { href: "/products/" + product.id + "/", text: product.name })),
          el("p", { class: "muted", text: product.description }),
          el("p", { class: "price" }, from === null ? "" : (prices.length > 1 ? "from " : "") + money(from)),
          inStock ? null : el("p", { class: "badge-out", text: "Out of stock" })));
      });
      var pager = $("[data-pager]");
      if (page.next || page.previous) {
        pager.hidden = false;
        $("[data-page-label]").textContent = "Page " + pageNumber;
        var go = function (n) { return function () { var p = params(); p.set("page", n); window.location.search = p.toString(); }; };
        $("[data-prev]").disabled = !page.previous;
        $("[data-next]").disabled = !page.next;
        $("[data-prev]").addEventListener("click", go(pageNumber - 1));
        $("[data-next]").addEventListener("click", go(pageNumber + 1));
      }
    } catch (error) { status.textContent = error.message; }

    var services = await api("GET", "/api/catalog/services/", undefined, { anonymous: true }).catch(function () { return { results: [] }; });
    services.results.forEach(function (service) {
      var prices = service.packages.map(function (p) { return p.price; });
      $("[data-services]").appendChild(el("li", { class: "card service-card" },
        el("h3", {}, el("a", { href: "/services/" + service.id + "/", text: service.name })),
        el("p", { class: "muted", text: service.description }),
        prices.length ? el("p", { class: "price", text: "from " + money(Math.min.apply(null, prices)) }) : null,
        el("p", {}, el("a", { class: "button", href: "/services/" + service.id + "/", text: "Choose a date" }))));
    });
    var plans = await api("GET", "/api/catalog/plans/", undefined, { anonymous: true }).catch(function () { return { results: [] }; });
    plans.results.forEach(function (plan) {
      var button = el("button", { type: "button", text: "Add to cart" });
      button.addEventListener("click", async function () {
        if (!requireSignIn()) { return; }
        try {
          await api("POST", "/api/cart/add/", { plan_code: plan.code }, { retry: true });
          window.location.assign("/cart/");
        } catch (error) { flash(error.message); }
      });
      $("[data-plans]").appendChild(el("li", { class: "card" },
        el("h3", { text: plan.name }),
        el("p", { class: "muted", text: plan.duration_days + " days" }),
        el("p", { class: "price", text: money(plan.price) }), button));
    });
  };

  pages.product = async function () {
    var id = document.body.dataset.productid;
    var status = $("[data-status]");
    var product;
    try { product = await api("GET", "/api/catalog/products/" + id + "/", undefined, { anonymous: true }); } catch (error) {
      status.textContent = error.status === 404 ? "This product is no longer sold." : error.message; return;
    }
    document.title = product.name + " · " + document.title;
    status.hidden = true;
    $("[data-name]").textContent = product.name;
    $("[data-description]").textContent = product.description;
    var form = $("[data-add-form]");
    var box = $("[data-variants]");
    var quantity = $("#quantity");
    var firstAvailable = product.variants.find(function (v) { return v.in_stock; });
    product.variants.forEach(function (variant) {
      var stockText = !variant.in_stock ? "Out of stock" : variant.stock <= 5 ? "Only " + variant.stock + " left" : "In stock";
      var radio = el("input", { type: "radio", name: "variant", value: String(variant.id), id: "variant-" + variant.id,
        disabled: !variant.in_stock, checked: firstAvailable && firstAvailable.id === variant.id });
      radio.addEventListener("change", function () { quantity.max = String(Math.min(99, variant.stock)); });
      box.appendChild(el("label", { class: "option" + (variant.in_stock ? "" : " disabled"), for: "variant-" + variant.id },
        radio, el("span", {}, el("strong", { text: variant.name }), el("br"),
          el("span", { class: "price", text: money(variant.price) }), " ",
          el("span", { class: variant.in_stock ? "stock" : "stock out", text: stockText }))));
    });
    if (firstAvailable) { quantity.max = String(Math.min(99, firstAvailable.stock)); }
    form.hidden = false;
    if (!firstAvailable) { form.querySelector("button[type=submit]").disabled = true; }
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      if (!requireSignIn()) { return; }
      var chosen = form.querySelector("input[name=variant]:checked");
      if (!chosen) { flash("Choose a variant first."); return; }
      try {
        await api("POST", "/api/cart/add/", { variant_id: Number(chosen.value), quantity: Number(quantity.value) }, {});
        window.location.assign("/cart/");
      } catch (error) { flash(error.message); }
    });
  };

  pages.service = async function () {
    var id = document.body.dataset.serviceid;
    var status = $("[data-status]");
    var service;
    try {
      service = (await all("/api/catalog/services/")).find(function (s) { return String(s.id) === id; });
    } catch (error) { status.textContent = error.message; return; }
    if (!service) { status.textContent = "This service is not offered any more."; return; }
    document.title = service.name + " · " + document.title;
    status.hidden = true;
    $("[data-name]").textContent = service.name;
    $("[data-description]").textContent = service.description;
    var form = $("[data-book-form]");
    service.packages.forEach(function (pkg, index) {
      $("[data-packages]").appendChild(el("label", { class: "option", for: "package-" + pkg.id },
        el("input", { type: "radio", name: "package", value: String(pkg.id), id: "package-" + pkg.id, checked: index === 0 }),
        el("span", {}, el("strong", { text: pkg.name }), el("br"), el("span", { class: "price", text: money(pkg.price) }))));
    });
    form.hidden = false;

    var today = new Date();
    var shown = { year: today.getFullYear(), month: today.getMonth() + 1 };
    var chosenDate = null;
    var first = { year: shown.year, month: shown.month };

    async function showMonth() {
      var month = shown.year + "-" + pad(shown.month);
      delete $("[data-calendar]").dataset.loaded;
      $("[data-month-label]").textContent = MONTHS[shown.month - 1] + " " + shown.year;
      $("[data-prev-month]").disabled = shown.year === first.year && shown.month === first.month;
      var body = clear($("[data-calendar-body]"));
      var data;
      try { data = await api("GET", "/api/catalog/services/" + id + "/availability/?month=" + month, undefined, { anonymous: true }); } catch (error) {
        flash(error.message); return;
      }
      var remaining = {};
      data.days.forEach(function (day) { remaining[day.date] = day.remaining; });
      var daysInMonth = new Date(Date.UTC(shown.year, shown.month, 0)).getUTCDate();
      var offset = (new Date(Date.UTC(shown.year, shown.month - 1, 1)).getUTCDay() + 6) % 7; // Monday first
      var row = el("tr");
      for (var i = 0; i < offset; i++) { row.appendChild(el("td")); }
      for (var day = 1; day <= daysInMonth; day++) {
        var iso = isoDate(shown.year, shown.month, day);
        var left = remaining[iso];
        var cell = el("td");
        if (left === undefined) {
          cell.appendChild(el("span", { class: "day none", text: String(day), "aria-label": longDate(iso) + ", no slots" }));
        } else {
          var label = longDate(iso) + (left ? ", " + left + (left === 1 ? " place" : " places") + " left" : ", full");
          var button = el("button", { type: "button", class: "day" + (left ? "" : " full") + (iso === chosenDate ? " chosen" : ""),
            "data-date": iso, "aria-label": label, "aria-pressed": iso === chosenDate ? "true" : "false", disabled: !left },
            el("span", { class: "num", text: String(day) }), el("span", { class: "left", text: left ? left + " left" : "full" }));
          button.addEventListener("click", chooseDate(iso));
          cell.appendChild(button);
        }
        row.appendChild(cell);
        if ((offset + day) % 7 === 0) { body.appendChild(row); row = el("tr"); }
      }
      if (row.childNodes.length) { body.appendChild(row); }
      $("[data-calendar]").dataset.loaded = month; // the month shown is complete
    }

    function chooseDate(iso) {
      return async function () {
        chosenDate = iso;
        $all("[data-calendar] button.day").forEach(function (b) {
          var on = b.dataset.date === iso;
          b.classList.toggle("chosen", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
        });
        var times = clear($("[data-times]"));
        var timesStatus = $("[data-times-status]");
        timesStatus.textContent = "Loading times for " + longDate(iso) + "…";
        try {
          var slots = await all("/api/catalog/services/" + id + "/slots/?date=" + iso);
          timesStatus.textContent = slots.length ? "Times on " + longDate(iso) + ":" : "No times left on " + longDate(iso) + ".";
          slots.forEach(function (slot, index) {
            var slotId = "time-" + slot.time.replace(":", "");
            times.appendChild(el("label", { class: "option time" + (slot.remaining ? "" : " disabled"), for: slotId },
              el("input", { type: "radio", name: "time", value: slot.time, id: slotId, disabled: !slot.remaining }),
              el("span", {}, el("strong", { text: clock(slot.time) }), el("br"),
                el("span", { class: "muted", text: slot.remaining ? slot.remaining + " of " + slot.capacity + (slot.capacity === 1 ? " place" : " places") + " left" : "Full" }))));
          });
        } catch (error) { timesStatus.textContent = error.message; }
      };
    }

    $("[data-prev-month]").addEventListener("click", function () {
      shown.month -= 1; if (shown.month === 0) { shown.month = 12; shown.year -= 1; } showMonth();
    });
    $("[data-next-month]").addEventListener("click", function () {
      shown.month += 1; if (shown.month === 13) { shown.month = 1; shown.year += 1; } showMonth();
    });
    await showMonth();

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var pkg = form.querySelector("input[name=package]:checked");
      var time = form.querySelector("input[name=time]:checked");
      if (!pkg || !chosenDate || !time) { flash("Choose a package, a date and a time."); return; }
      if (!requireSignIn()) { return; }
      try {
        await api("POST", "/api/cart/add/", {
          package_id: Number(pkg.value), selected_date: chosenDate, selected_time: time.value,
          devotee_name: $("#devotee-name").value, note: $("#note").value,
        }, { retry: true });
        window.location.assign("/cart/");
      } catch (error) { flash(error.message); }
    });
  };

  function lineDescription(line) {
    if (line.kind === "service") {
      var text = longDate(line.selected_date) + " at " + clock(line.selected_time);
      if (line.devotee_name) { text += " · for " + line.devotee_name; }
      return text;
    }
    if (line.kind === "plan") { return line.duration_days ? line.duration_days + "-day membership" : "Membership"; }
    return line.sku ? "SKU " + line.sku : "";
  }

  pages.cart = async function () {
    if (!access) { requireSignIn(); return; }
    var status = $("[data-status]");

    function render(cart) {
      status.hidden = true;
      var empty = cart.items.length === 0;
      $("[data-cart]").hidden = empty;
      $("[data-empty]").hidden = !empty;
      var notices = clear($("[data-notices]"));
      (cart.notices || []).concat(cart.promo_notice ? [cart.promo_notice] : []).forEach(function (text) {
        notices.appendChild(el("li", { class: "notice", text: text }));
      });
      var lines = clear($("[data-lines]"));
      cart.items.forEach(function (line) {
        var controls = el("div", { class: "line-controls" });
        if (line.kind === "product") {
          var qtyId = "qty-" + line.id;
          var qty = el("input", { id: qtyId, type: "number", min: "1", max: "99", value: String(line.quantity), inputmode: "numeric" });
          qty.addEventListener("change", async function () {
            try { render(await api("PATCH", "/api/cart/items/" + line.id + "/", { quantity: Number(qty.value) }, { retry: true })); } catch (error) {
              flash(error.message); qty.value = String(line.quantity);
            }
          });
          controls.appendChild(el("label", { for: qtyId, text: "Quantity" }));
          controls.appendChild(qty);
        }
        var remove = el("button", { type: "button", class: "link", text: "Remove", "aria-label": "Remove " + line.name });
        remove.addEventListener("click", async function () {
          try { render(await api("DELETE", "/api/cart/items/" + line.id + "/", undefined, { retry: true })); } catch (error) { flash(error.message); }
        });
        controls.appendChild(remove);
        lines.appendChild(el("li", { class: "line" + (line.available ? "" : " unavailable") },
          el("div", { class: "line-main" }, el("strong", { text: line.name }), el("br"),
            el("span", { class: "muted", text: lineDescription(line) }),
            line.available ? null : el("p", { class: "bad", text: line.kind === "product" ? "Only " + line.stock + " in stock now" : "No places left on this slot" })),
          el("div", { class: "line-price" }, line.quantity > 1 ? el("span", { class: "muted", text: line.quantity + " × " + money(line.unit_price) }) : null,
            el("strong", { text: money(line.line_total) })),
          controls));
      });
      $("[data-subtotal]").textContent = money(cart.subtotal);
      $("[data-discount]").textContent = cart.discount ? "− " + money(cart.discount) : money(0);
      $("[data-total]").textContent = money(cart.total);
      $("[data-promo-applied]").hidden = !cart.promo_code;
      $("[data-promo-form]").hidden = Boolean(cart.promo_code);
      $("[data-promo-name]").textContent = cart.promo_code || "";
      var badge = $("[data-cart-count]");
      badge.textContent = String(cart.items_count); badge.hidden = cart.items_count === 0;
    }

    $("[data-promo-form]").addEventListener("submit", async function (event) {
      event.preventDefault();
      var code = $("#promo-code").value.trim();
      if (!code) { flash("Enter a promo code."); return; }
      try { render(await api("POST", "/api/cart/promo/", { code: code }, { retry: true })); flash(""); } catch (error) { flash(error.message); }
    });
    $("[data-promo-remove]").addEventListener("click", async function () {
      try { render(await api("DELETE", "/api/cart/promo/", undefined, { retry: true })); } catch (error) { flash(error.message); }
    });
    try { render(await api("GET", "/api/cart/")); } catch (error) { status.textContent = error.message; }
  };

  function addressText(a) {
    return [a.full_name, a.address_line_1, a.address_line_2, a.city + ", " + a.state + " " + a.postal_code, a.phone]
      .filter(Boolean).join(", ");
  }

  /** Razorpay, sandbox: the sandbox's hosted page stands in for Checkout.js in a pop-up, and hands back the same
   * {razorpay_payment_id, razorpay_order_id, razorpay_signature} that Checkout's handler gets. */
  function sandboxRazorpay(popup, checkout) {
    return new Promise(function (resolve, reject) {
      var origin = new URL(checkout.sandbox_checkout_url).origin;
      function onMessage(event) {
        if (event.origin !== origin || !event.data || event.data.source !== "payfirst-sandbox-razorpay") { return; }
        window.removeEventListener("message", onMessage);
        clearInterval(watch);
        popup.close();
        if (event.data.ok) { resolve(event.data.response); } else {
          var e = (event.data.response && event.data.response.error) || {};
          reject(new ApiError(402, { error: { code: "payment_failed", message: e.description || "The payment failed." } }));
        }
      }
      window.addEventListener("message", onMessage);
      var watch = setInterval(function () {
        if (popup.closed) {
          clearInterval(watch); window.removeEventListener("message", onMessage);
          reject(new ApiError(0, { error: { code: "payment_closed", message: "The payment window was closed before paying." } }));
        }
      }, 500);
      popup.location.href = checkout.sandbox_checkout_url;
    });
  }

  /** Razorpay, live: Checkout.js with the payment's `checkout` block. */
  function liveRazorpay(checkout) {
    return new Promise(function (resolve, reject) {
      function open() {
        var options = Object.assign({}, checkout, {
          key: checkout.key || checkout.key_id,
          handler: resolve,
          modal: { ondismiss: function () { reject(new ApiError(0, { error: { code: "payment_closed", message: "Payment cancelled." } })); } },
        });
        delete options.callback_url; // the handler confirms; redirect mode is for pages without script
        var rzp = new window.Razorpay(options);
        rzp.on("payment.failed", function (response) {
          reject(new ApiError(402, { error: { code: "payment_failed", message: (response.error && response.error.description) || "The payment failed." } }));
        });
        rzp.open();
      }
      if (window.Razorpay) { open(); return; }
      var script = el("script", { src: "https://checkout.razorpay.com/v1/checkout.js" });
      script.onload = open;
      script.onerror = function () { reject(new ApiError(0, { error: { code: "network_error", message: "Could not load Razorpay Checkout." } })); };
      document.head.appendChild(script);
    });
  }

  pages.checkout = async function () {
    if (!access) { requireSignIn(); return; }
    var status = $("[data-status]");
    var form = $("[data-checkout-form]");
    var cart;
    var addresses;
    try {
      cart = await api("GET", "/api/cart/");
      addresses = await all("/api/auth/addresses/");
    } catch (error) { status.textContent = error.message; return; }
    if (!cart.items.length) { status.textContent = "Your cart is empty."; return; }
    status.hidden = true;
    form.hidden = false;
    cart.items.forEach(function (line) {
      $("[data-lines]").appendChild(el("li", { class: "line" },
        el("div", { class: "line-main" }, el("strong", { text: line.name + (line.quantity > 1 ? " × " + line.quantity : "") }), el("br"),
          el("span", { class: "muted", text: lineDescription(line) })),
        el("div", { class: "line-price" }, el("strong", { text: money(line.total) }))));
    });
    $("[data-total]").textContent = money(cart.total);
    $("[data-pay]").textContent = "Pay " + money(cart.total);
    var needsAddress = cart.items.some(function (line) { return line.kind === "product"; });
    if (needsAddress) {
      $("[data-address-block]").hidden = false;
      var box = $("[data-addresses]");
      if (!addresses.length) { box.appendChild(el("p", { text: "You have no saved address yet." })); }
      addresses.forEach(function (address) {
        box.appendChild(el("label", { class: "option", for: "address-" + address.id },
          el("input", { type: "radio", name: "address", value: String(address.id), id: "address-" + address.id, checked: address.is_default || addresses.length === 1 }),
          el("span", { text: addressText(address) })));
      });
    }
    var errorBox = $("[data-payment-error]");
    // One key per checkout attempt: the retries of one click reuse it, so they can never create two payments.
    var attemptKey = null;

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      var gateway = form.querySelector("input[name=gateway]:checked").value;
      var body = { gateway: gateway, redirect_url: window.location.origin + "/confirmbooking" };
      if (needsAddress) {
        var chosen = form.querySelector("input[name=address]:checked");
        if (!chosen) { showError(errorBox, { message: "Choose a delivery address, or add one." }); return; }
        body.shipping_address_id = Number(chosen.value);
      }
      // The pop-up must open in the click itself, or the browser blocks it; it is pointed at the page later.
      var popup = gateway === "razorpay" ? window.open("", "payfirst-razorpay", "popup,width=480,height=680") : null;
      var payButton = $("[data-pay]");
      payButton.disabled = true;
      attemptKey = attemptKey || newKey();
      var payment;
      try {
        payment = await api("POST", "/api/payments/create-from-cart/", body, { idempotencyKey: attemptKey });
      } catch (error) {
        if (popup) { popup.close(); }
        attemptKey = null;
        payButton.disabled = false;
        showError(errorBox, error);
        return;
      }
      attemptKey = null; // the next click is a new attempt (the server hands back this pending payment if nothing changed)
      var checkout = payment.checkout || {};
      if (gateway === "phonepe") { window.location.assign(checkout.redirect_url); return; }
      try {
        var result;
        if (checkout.sandbox_checkout_url) {
          if (!popup) { throw new ApiError(0, { error: { code: "popup_blocked", message: "Allow pop-ups for this site to pay with Razorpay." } }); }
          result = await sandboxRazorpay(popup, checkout);
        } else {
          if (popup) { popup.close(); }
          result = await liveRazorpay(checkout);
        }
        await api("POST", "/api/payments/confirm-razorpay/", {
          razorpay_payment_id: result.razorpay_payment_id, razorpay_order_id: result.razorpay_order_id,
          razorpay_signature: result.razorpay_signature,
        }, { retry: true });
        window.location.assign("/confirmbooking?payment_id=" + payment.id);
      } catch (error) {
        payButton.disabled = false;
        payButton.textContent = "Try again: pay " + money(cart.total);
        showError(errorBox, { message: error.message + " No money was taken; you can try again." });
      }
    });
  };

  var DONE = { CAPTURED: true, PARTIALLY_REFUNDED: true, REFUNDED: true };
  var OVER = { FAILED: true, EXPIRED: true, CANCELLED: true, SUPERSEDED: true };

  pages.confirm = async function () {
    if (!access) { requireSignIn(); return; }
    var id = params().get("payment_id");
    var sections = { checking: $("[data-checking]"), success: $("[data-success]"), failure: $("[data-failure]"), pending: $("[data-pending]") };
    function show(name) { Object.keys(sections).forEach(function (key) { sections[key].hidden = key !== name; }); }
    if (!/^\d+$/.test(id || "")) {
      show("failure"); $("[data-failure-text]").textContent = "This link does not name a payment. Your cart is kept."; return;
    }

    async function describe(payment) {
      $("[data-amount]").textContent = money(payment.amount);
      var list = clear($("[data-fulfilments]"));
      for (var i = 0; i < payment.fulfilments.length; i++) {
        var ref = payment.fulfilments[i];
        if (ref.type === "booking") {
          var booking = await api("GET", "/api/booking/bookings/" + ref.id + "/");
          list.appendChild(el("li", { class: "receipt" }, el("strong", { text: "Booking " + booking.book_id }), el("br"),
            booking.service.name + " — " + booking.package.name + ", " + longDate(booking.selected_date) + " at " + clock(booking.selected_time),
            booking.devotee_name ? el("span", { class: "muted", text: " · for " + booking.devotee_name }) : null));
        } else if (ref.type === "order") {
          var order = await api("GET", "/api/orders/" + ref.id + "/");
          list.appendChild(el("li", { class: "receipt" }, el("strong", { text: "Order " + order.order_number }), el("br"),
            order.items.map(function (item) { return item.quantity + " × " + item.name; }).join(", ") + " — " + money(order.total)));
        } else {
          list.appendChild(el("li", { class: "receipt" }, el("strong", { text: "Membership " + ref.reference }), " is active."));
        }
      }
      var documents = clear($("[data-documents]"));
      (await documentButtons(payment.id)).forEach(function (button) { documents.appendChild(el("li", {}, button)); });
    }

    async function poll() {
      show("checking");
      var deadline = Date.now() + 45000;
      var delay = 1000;
      while (Date.now() < deadline) {
        var payment;
        try { payment = await api("GET", "/api/payments/" + id + "/"); } catch (error) {
          if (error.status === 404) { show("failure"); $("[data-failure-text]").textContent = "We could not find this payment in your account."; return; }
          payment = null;
        }
        if (payment && DONE[payment.status] && payment.fulfilments.length) {
          await describe(payment); show("success"); showCartCount(); return;
        }
        if (payment && OVER[payment.status]) {
          $("[data-failure-text]").textContent = payment.status === "EXPIRED"
            ? "The time to pay ran out and no money was taken. Your cart is kept; you can pay again."
            : "Your payment did not go through and no money was taken. Your cart is kept; you can try again.";
          show("failure"); return;
        }
        if (payment && payment.status === "FLAGGED") {
          $("[data-failure-text]").textContent = "Your bank reported an amount we did not expect. Our team will check it and contact you; nothing more is needed from you.";
          show("failure"); $("[data-retry]").hidden = true; return;
        }
        await wait(delay);
        delay = Math.min(delay * 1.5, 4000);
      }
      show("pending");
    }
    $("[data-recheck]").addEventListener("click", poll);
    await poll();
  };

  function formValues(form) {
    var values = {};
    $all("input, textarea, select", form).forEach(function (input) {
      if (!input.name) { return; }
      values[input.name] = input.type === "checkbox" ? input.checked : input.value.trim();
    });
    return values;
  }

  pages.signin = function () {
    if (access) { window.location.assign(safeNext("/account/")); return; }
    $all("[data-keep-next]").forEach(function (a) { if (params().get("next")) { a.href += "?next=" + encodeURIComponent(safeNext("/")); } });
    var form = $("[data-signin-form]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var values = formValues(form);
      try {
        await signIn(values.email, values.password);
        window.location.assign(safeNext("/"));
      } catch (error) {
        showError($("[data-form-error]"), error.status === 401 ? { message: "That email and password do not match an account." } : error);
      }
    });
  };

  pages.register = function () {
    $all("[data-keep-next]").forEach(function (a) { if (params().get("next")) { a.href += "?next=" + encodeURIComponent(safeNext("/")); } });
    var form = $("[data-register-form]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var values = formValues(form);
      if (!values.phone) { delete values.phone; }
      try {
        await api("POST", "/api/auth/register/", values, { anonymous: true });
        await signIn(values.email, values.password);
        window.location.assign(safeNext("/"));
      } catch (error) { showError($("[data-form-error]"), error); }
    });
  };

  pages.password_reset = function () {
    var form = $("[data-reset-form]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        await api("POST", "/api/auth/password-reset/", formValues(form), { anonymous: true });
        form.hidden = true; $("[data-done]").hidden = false;
      } catch (error) { showError($("[data-form-error]"), error); }
    });
  };

  pages.password_reset_confirm = function () {
    var form = $("[data-reset-confirm-form]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var body = { uid: params().get("uid") || "", token: params().get("token") || "", new_password: $("#new_password").value };
      try {
        await api("POST", "/api/auth/password-reset/confirm/", body, { anonymous: true });
        form.hidden = true; $("[data-done]").hidden = false;
      } catch (error) {
        showError($("[data-form-error]"), error.code === "invalid_token"
          ? { message: "This reset link has expired or was already used. Ask for a new one from the sign-in page." } : error);
      }
    });
  };

  /** A two-step cancel button: the first press asks, the second (within the same card) acts. */
  function cancelButton(label, confirmLabel, action) {
    var wrap = el("div", { class: "cancel" });
    var ask = el("button", { type: "button", class: "danger-outline", text: label });
    var sure = el("button", { type: "button", class: "danger", text: confirmLabel, hidden: true });
    var keep = el("button", { type: "button", class: "link", text: "Keep it", hidden: true });
    ask.addEventListener("click", function () { ask.hidden = true; sure.hidden = false; keep.hidden = false; sure.focus(); });
    keep.addEventListener("click", function () { ask.hidden = false; sure.hidden = true; keep.hidden = true; ask.focus(); });
    sure.addEventListener("click", async function () {
      sure.disabled = true;
      try { await action(); } catch (error) { flash(error.message); sure.disabled = false; }
    });
    wrap.appendChild(ask); wrap.appendChild(sure); wrap.appendChild(keep);
    return wrap;
  }

  function statusBadge(text) { return el("span", { class: "status " + text.toLowerCase(), text: text.charAt(0) + text.slice(1).toLowerCase() }); }

  pages.account = async function () {
    if (!access) { requireSignIn(); return; }
    async function load() {
      var bookings = await all("/api/booking/bookings/");
      var orders = await all("/api/orders/");
      var subscriptions = await all("/api/subscriptions/");
      var list = clear($("[data-bookings]"));
      if (!bookings.length) { list.appendChild(el("li", { class: "muted", text: "No bookings yet." })); }
      bookings.forEach(function (b) {
        var card = el("li", { class: "card", "data-booking": b.book_id },
          el("h3", {}, b.service.name + " — " + b.package.name + " ", statusBadge(b.status)),
          el("p", { text: longDate(b.selected_date) + " at " + clock(b.selected_time) }),
          b.devotee_name ? el("p", { class: "muted", text: "For " + b.devotee_name + (b.note ? " · " + b.note : "") }) : null,
          el("p", { class: "muted", text: "Booking " + b.book_id + " · paid " + money(b.total) }));
        if (b.status === "CONFIRMED") {
          card.appendChild(cancelButton("Cancel booking", "Yes, cancel " + b.book_id, async function () {
            await api("POST", "/api/booking/bookings/" + b.id + "/cancel/", undefined, { retry: true });
            flash("Booking " + b.book_id + " is cancelled. Any refund due is on its way to your original payment method.", "ok");
            await load();
          }));
        }
        list.appendChild(card);
      });
      list = clear($("[data-orders]"));
      if (!orders.length) { list.appendChild(el("li", { class: "muted", text: "No orders yet." })); }
      orders.forEach(function (o) {
        list.appendChild(el("li", { class: "card" },
          el("h3", {}, "Order " + o.order_number + " ", statusBadge(o.status)),
          el("p", { text: o.items.map(function (item) { return item.quantity + " × " + item.name; }).join(", ") }),
          el("p", { class: "muted", text: dateTime(o.created_at) + " · " + money(o.total) })));
      });
      list = clear($("[data-subscriptions]"));
      if (!subscriptions.length) { list.appendChild(el("li", { class: "muted", text: "No memberships yet." })); }
      subscriptions.forEach(function (s) {
        var card = el("li", { class: "card" },
          el("h3", {}, s.plan_code + " ", statusBadge(s.status)),
          el("p", { class: "muted", text: dateTime(s.starts_at) + " to " + dateTime(s.ends_at) }));
        if (s.status === "ACTIVE") {
          card.appendChild(cancelButton("Cancel membership", "Yes, cancel it", async function () {
            await api("POST", "/api/subscriptions/" + s.id + "/cancel/", undefined, { retry: true });
            flash("Your membership is cancelled.", "ok");
            await load();
          }));
        }
        list.appendChild(card);
      });
    }
    try { await load(); } catch (error) { flash(error.message); }
  };

  pages.addresses = async function () {
    if (!access) { requireSignIn(); return; }
    async function load() {
      var list = clear($("[data-addresses]"));
      var addresses = await all("/api/auth/addresses/");
      if (!addresses.length) { list.appendChild(el("li", { class: "muted", text: "No saved addresses yet." })); }
      addresses.forEach(function (a) {
        var remove = el("button", { type: "button", class: "link", text: "Delete", "aria-label": "Delete address " + a.address_line_1 });
        remove.addEventListener("click", async function () {
          try { await api("DELETE", "/api/auth/addresses/" + a.id + "/", undefined, { retry: true }); await load(); } catch (error) { flash(error.message); }
        });
        list.appendChild(el("li", { class: "card" }, el("p", { text: addressText(a) }), a.is_default ? el("p", { class: "muted", text: "Default address" }) : null, remove));
      });
    }
    var form = $("[data-address-form]");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var values = formValues(form);
      values.country = "India";
      try {
        await api("POST", "/api/auth/addresses/", values, {});
        var next = safeNext("");
        if (next) { window.location.assign(next); return; }
        form.reset(); $("[data-form-error]").hidden = true; await load();
      } catch (error) { showError($("[data-form-error]"), error); }
    });
    try { await load(); } catch (error) { flash(error.message); }
  };

  // ---- start -----------------------------------------------------------------------------------------------------

  async function start() {
    await refreshAccess();
    showSession();
    $all("[data-sign-out]").forEach(function (button) { button.addEventListener("click", signOut); });
    showCartCount();
    var run = pages[document.body.dataset.page];
    if (run) { await run(); }
  }

  window.payfirstMoney = money; // exposed for the browser tests of the rupee formatting
  document.addEventListener("DOMContentLoaded", start);
})();
