// Offline, the dashboards are drawn from the offline store (sync-engine.js) instead of being left
// as whatever HTML the service worker kept: the store holds what the last pull brought plus the
// changes waiting in the outbox, so a queued cancel shows at once. A route table maps a path to a
// view; a view turns the store into nodes for <main id="main">, with the classes of the server
// templates (keep the two in step). Text only ever goes in as text nodes, never as markup.

import { el } from "./dom.js";

// `nav` is the navigation entry to mark as current (the page drawn on may be another route's).
const ROUTES = [
  { path: /^\/dashboard\/learner\/$/, role: "learner", nav: "/dashboard/learner/", view: learnerHome },
  { path: /^\/dashboard\/learner\/bookings\/$/, role: "learner", nav: "/dashboard/learner/bookings/", view: learnerBookings },
  { path: /^\/dashboard\/learner\/bookings\/(\d+)\/$/, role: "learner", nav: "/dashboard/learner/bookings/", view: learnerBooking },
  { path: /^\/dashboard\/learner\/requests\/$/, role: "learner", nav: "/dashboard/learner/requests/", view: learnerRequests },
  { path: /^\/dashboard\/mentor\/$/, role: "mentor", nav: "/dashboard/mentor/", view: mentorHome },
  { path: /^\/dashboard\/notifications\/$/, role: null, nav: "/dashboard/notifications/", view: notificationsPage }, // any role
];

// Mirrors of server rules the offline pages need. The server decides when the outbox replays.
const ROOM_OPENS_MINUTES_BEFORE = 10; // PRODUCT.md, "Live room"
const FULL_REFUND_HOURS_BEFORE = 1; // settings.FULL_REFUND_HOURS_BEFORE (its default)
const BOOKING_STATES = { held: "Awaiting payment", confirmed: "Confirmed", cancelled: "Cancelled", expired: "Expired" };
const REQUEST_STATES = {
  pending: "Waiting for the mentor",
  countered: "Mentor proposed another time or price",
  accepted: "Accepted",
  declined: "Declined",
  withdrawn: "Withdrawn",
  expired: "Expired",
};
const SESSION_STATES = { draft: "Draft", scheduled: "Scheduled", live: "Live", completed: "Completed", cancelled: "Cancelled" };

let renders = 0;

// --- the store, read once per render ----------------------------------------------------------
async function load(db) {
  const [bookings, sessions, requests, notifications, outbox, profile, syncedAt] = await Promise.all([
    db.getAll("bookings"),
    db.getAll("sessions"),
    db.getAll("requests"),
    db.getAll("notifications"),
    db.getAll("outbox"),
    db.get("meta", "profile"),
    db.get("meta", "syncedAt"),
  ]);
  const sessionById = new Map(sessions.map((s) => [s.id, s]));
  return {
    now: Date.now(),
    zone: profile?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone,
    profile,
    syncedAt,
    sessions,
    requests,
    notifications,
    bookings: bookings.map((b) => ({ ...b, session: sessionById.get(b.session_id) })).filter((b) => b.session),
    waiting: outbox.filter((item) => item.state === "pending"),
  };
}

const ms = (iso) => (iso ? Date.parse(iso) : NaN);
const bySessionStart = (a, b) => ms(a.session.starts_at) - ms(b.session.starts_at) || a.id - b.id;
const queuedCancel = (data, id) => data.waiting.some((i) => i.name === "booking.cancel" && i.args?.id === id);
const queuedAnswer = (data, id) => data.waiting.find((i) => i.name === "request.answer" && i.args?.request === id);

// The server's lists (selectors.bookings_of_learner): upcoming holds a seat in a session that has
// not ended; past ended, or was cancelled or expired.
const expiredHold = (b, now) => b.state === "held" && !(ms(b.hold_expires_at) > now);
const holdsSeat = (b, now) => b.state === "confirmed" || (b.state === "held" && !expiredHold(b, now));
const isUpcoming = (b, now) =>
  holdsSeat(b, now) && ["scheduled", "live"].includes(b.session.state) && ms(b.session.ends_at) > now;
const isPast = (b, now) =>
  ms(b.session.ends_at) <= now || ["completed", "cancelled"].includes(b.session.state) || ["cancelled", "expired"].includes(b.state);
const canCancel = (b, now) => holdsSeat(b, now) && ms(b.session.starts_at) > now;
const isOpenRequest = (r, now) => ["pending", "countered"].includes(r.state) && ms(r.expires_at) > now;
const shownRequestState = (r, now) => (["pending", "countered"].includes(r.state) && !isOpenRequest(r, now) ? "expired" : r.state);

// --- words and numbers, as the server's template tags write them ---------------------------------
const formatters = new Map();
function formatter(locale, options) {
  const key = locale + JSON.stringify(options);
  if (!formatters.has(key)) formatters.set(key, new Intl.DateTimeFormat(locale, options));
  return formatters.get(key);
}

// ICU names a zone only in the locales that use it ("IST" in en-IN, "BST" in en-GB, "EST" in
// en-US); elsewhere it writes "GMT+5:30". Take the first real name, as tzdata (the server) does.
const ZONE_LOCALES = ["en-US", "en-GB", "en-IN", "en-AU"];
function zoneName(date, timeZone) {
  let offset = "";
  for (const locale of ZONE_LOCALES) {
    const parts = formatter(locale, { timeZone, timeZoneName: "short" }).formatToParts(date);
    const name = parts.find((p) => p.type === "timeZoneName")?.value || "";
    if (name && !/^GMT[+-]/.test(name)) return name;
    offset ||= name;
  }
  return offset.replace(/^GMT/, "UTC");
}

// "Tue 5 Nov, 3:30 pm IST" (the `local_time` tag); year: "Tue 5 Nov 2026, …"; timeOnly: "3:20 pm IST".
function when(iso, zone, { year = false, timeOnly = false } = {}) {
  if (!iso) return "";
  const date = new Date(iso);
  const options = { timeZone: zone, weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit", hour12: true };
  const p = Object.fromEntries(formatter("en-US", options).formatToParts(date).map((part) => [part.type, part.value]));
  const day = `${p.weekday} ${p.day} ${p.month}${year ? ` ${p.year}` : ""}`;
  const time = `${p.hour}:${p.minute} ${(p.dayPeriod || "").toLowerCase()} ${zoneName(date, zone)}`;
  return timeOnly ? time : `${day}, ${time}`;
}

const dayIn = (iso, zone) => formatter("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));

function rupees(paise) {
  if (!paise) return "Free";
  const rupee = Math.floor(paise / 100).toLocaleString("en-US");
  return paise % 100 ? `₹${rupee}.${String(paise % 100).padStart(2, "0")}` : `₹${rupee}`;
}

function minutesLabel(minutes) {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours && rest) return `${hours} h ${rest} min`;
  return hours ? `${hours} h` : `${rest} min`;
}

function ago(iso, data) {
  if (!iso) return "never";
  const minutes = Math.round((data.now - ms(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.round(minutes / 60)} h ago`;
  return `on ${when(iso, data.zone)}`;
}

const firstName = (fullName) => (fullName || "").split(" ")[0];
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// --- building nodes ------------------------------------------------------------------------------
let sprite = null;
function icon(name, size = 20) {
  // The sprite's URL as the page wrote it (fingerprinted in production).
  sprite ??= document.querySelector("svg.icon use")?.getAttribute("href")?.split("#")[0] || "/static/icons/heroicons.svg";
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  for (const [k, v] of Object.entries({ class: "icon", width: size, height: size, "aria-hidden": "true", focusable: "false" })) svg.setAttribute(k, v);
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `${sprite}#i-${name}`);
  svg.append(use);
  return svg;
}

const time = (iso, data, options) => el("time", { datetime: iso }, when(iso, data.zone, options));
const chip = (state, label) => el("span", { class: `chip chip-${state}` }, label);
const waitingChip = (label = "Waiting to sync") => el("span", { class: "chip chip-waiting" }, icon("clock", 14), label);
const bookingChip = (b, data) => (expiredHold(b, data.now) ? chip("expired", "Expired") : chip(b.state, BOOKING_STATES[b.state] || b.state));
const bookingUrl = (b) => `/dashboard/learner/bookings/${b.id}/`;

function emptyState(iconName, text, action) {
  return el("div", { class: "empty-state" }, icon(iconName, 32), el("p", {}, text), action ? el("a", { class: "btn btn-secondary", href: action[0] }, action[1]) : null);
}

function section(id, title, link, ...content) {
  const head = el("div", { class: "section-head" }, el("h2", { id, class: "section-title" }, title));
  if (link) head.append(el("a", { class: "btn btn-link", href: link[0] }, link[1], " ", icon("arrow-right", 16)));
  return el("section", { class: "section-tight", "aria-labelledby": id }, head, ...content);
}

function csrfInput() {
  const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] ?? "";
  return el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: decodeURIComponent(token) });
}

// A form offline.js queues while offline (and that posts normally once the connection is back).
function postForm(action, attrs, fields, ...buttons) {
  const hidden = Object.entries(fields).map(([name, value]) => el("input", { type: "hidden", name, value }));
  return el("form", { method: "post", action, ...attrs }, csrfInput(), ...hidden, ...buttons);
}

function banner(data) {
  return el(
    "div",
    { class: "notice offline-view-banner", role: "status", "data-offline-banner": true },
    icon("signal-slash", 22),
    el(
      "div",
      {},
      el("strong", {}, `You're offline — showing what was synced ${ago(data.syncedAt, data)}`),
      el("p", { class: "muted" }, "Changes you make wait on this device until you're back online."),
    ),
  );
}

// --- learner: home ---------------------------------------------------------------------------------
function learnerHome(data) {
  const { now } = data;
  const upcoming = data.bookings.filter((b) => isUpcoming(b, now)).sort(bySessionStart);
  const completed = data.bookings.filter((b) => b.state === "confirmed" && b.session.state === "completed");
  const minutes = completed.reduce((sum, b) => sum + b.session.duration_minutes, 0);
  const stat = (label, value) => el("div", { class: "card stat" }, el("span", { class: "stat-label" }, label), el("strong", { class: "stat-value" }, String(value)));
  return {
    title: "Home · PeerLearn",
    heading: `Hi ${firstName(data.profile.full_name)}`,
    nodes: [
      el("section", { class: "stats grid grid-3", "aria-label": "Your progress" }, stat("Hours learned", (minutes / 60).toFixed(1)), stat("Sessions completed", completed.length), stat("Upcoming", upcoming.length)),
      section(
        "upcoming-heading",
        "Upcoming sessions",
        ["/dashboard/learner/bookings/", "All bookings"],
        upcoming.length
          ? el("ul", { class: "list" }, upcoming.map((b) => homeBooking(b, data)))
          : emptyState("calendar-days", "You have no sessions booked. Find one that fits your goals.", ["/sessions/", "Browse sessions"]),
      ),
      openRequests(data),
    ],
  };
}

function homeBooking(b, data) {
  return el(
    "li",
    { class: "card list-item list-item-wrap" },
    el("div", {}, el("strong", {}, el("a", { href: bookingUrl(b) }, b.session.title)), el("p", { class: "muted" }, `with ${b.session.mentor.full_name} · `, time(b.session.starts_at, data))),
    el("div", { class: "row-actions" }, bookingChip(b, data), queuedCancel(data, b.id) ? waitingChip() : null),
  );
}

function openRequests(data) {
  const sending = data.waiting.filter((i) => i.name === "request.create");
  const open = data.requests
    .filter((r) => isOpenRequest(r, data.now))
    .sort((a, b) => ms(b.created_at) - ms(a.created_at) || b.id - a.id);
  const items = [
    ...sending.map((item) =>
      el(
        "li",
        { class: "card list-item list-item-wrap" },
        el("div", {}, el("strong", {}, item.args.topic || "Session request"), el("p", { class: "muted" }, `to ${mentorName(data, item.args.mentor)} · made offline `, time(item.createdAt, data))),
        waitingChip("Waiting to send"),
      ),
    ),
    ...open.map((r) =>
      el(
        "li",
        { class: "card list-item list-item-wrap" },
        el("div", {}, el("strong", {}, r.topic), el("p", { class: "muted" }, `with ${r.mentor_name} · answer by `, time(r.expires_at, data))),
        el("div", { class: "row-actions" }, chip(r.state, REQUEST_STATES[r.state]), queuedAnswer(data, r.id) ? waitingChip() : null),
      ),
    ),
  ];
  return section(
    "requests-heading",
    "Open requests",
    ["/dashboard/learner/requests/", "All requests"],
    items.length ? el("ul", { class: "list" }, items) : el("p", { class: "muted" }, "No requests are waiting for an answer."),
  );
}

function mentorName(data, id) {
  const known = data.requests.find((r) => r.mentor_id === id)?.mentor_name || data.sessions.find((s) => s.mentor.id === id)?.mentor.full_name;
  return known || "a mentor";
}

// --- learner: bookings ----------------------------------------------------------------------------
function learnerBookings(data) {
  const { now } = data;
  const when = new URLSearchParams(location.search).get("when") === "past" ? "past" : "upcoming";
  const rows =
    when === "past"
      ? data.bookings.filter((b) => isPast(b, now)).sort((a, b) => bySessionStart(b, a))
      : data.bookings.filter((b) => isUpcoming(b, now)).sort(bySessionStart);
  const tab = (value, iconName, label) =>
    el("a", { class: "tab", href: `?when=${value}`, "aria-current": when === value ? "page" : null }, icon(iconName, 16), ` ${label}`);
  let content;
  if (rows.length) content = el("ul", { class: "list" }, rows.map((b) => bookingRow(b, data)));
  else if (when === "upcoming") content = emptyState("calendar-days", "No upcoming bookings. Find a session that fits your goals.", ["/sessions/", "Browse sessions"]);
  else content = emptyState("clock", "Sessions you booked show up here once they are over.");
  return {
    title: "Bookings · PeerLearn",
    heading: "Bookings",
    nodes: [el("nav", { class: "tabs", "aria-label": "Which bookings" }, tab("upcoming", "calendar-days", "Upcoming"), tab("past", "clock", "Past")), content],
  };
}

function bookingRow(b, data) {
  const s = b.session;
  return el(
    "li",
    { class: "card list-item list-item-wrap booking-row" },
    el(
      "div",
      {},
      el("strong", {}, el("a", { href: bookingUrl(b) }, s.title)),
      el("p", { class: "muted" }, `with ${s.mentor.full_name} · `, time(s.starts_at, data), " ", el("span", { class: "nowrap" }, `· ${minutesLabel(s.duration_minutes)}`)),
      holdNote(b, data),
    ),
    el("div", { class: "row-actions" }, bookingChip(b, data), queuedCancel(data, b.id) ? waitingChip() : null),
  );
}

function holdNote(b, data) {
  if (b.state !== "held" || expiredHold(b, data.now)) return null;
  const text = b.session.price_paise ? "Complete payment by " : "Seat held for you until ";
  return el("p", { class: "hold-note" }, icon("clock", 16), ` ${text}`, time(b.hold_expires_at, data));
}

// --- learner: one booking -------------------------------------------------------------------------
function learnerBooking(data, match) {
  const id = Number(match[1]);
  const b = data.bookings.find((booking) => booking.id === id);
  const back = (past) => el("a", { class: "back-link", href: `/dashboard/learner/bookings/${past ? "?when=past" : ""}` }, icon("arrow-left", 16), " Your bookings");
  if (!b) {
    return {
      title: "Booking · PeerLearn",
      heading: "Booking",
      nodes: [back(false), emptyState("clipboard-document-list", "This booking isn't saved on this device. It shows up here after your next sync with a connection.", ["/dashboard/learner/bookings/", "Your bookings"])],
    };
  }
  const s = b.session;
  const fact = (iconName, label, ...value) => el("div", {}, el("dt", {}, icon(iconName, 18), ` ${label}`), el("dd", {}, ...value));
  const sessionChip = { live: chip("live", "Live now"), cancelled: chip("cancelled", "Session cancelled"), completed: chip("completed", "Session completed") }[s.state];
  const head = el(
    "header",
    { class: "detail-head" },
    el("div", { class: "session-card-top" }, el("span", { class: "chip" }, s.domain.name), bookingChip(b, data), sessionChip || null, queuedCancel(data, b.id) ? waitingChip() : null),
    el("h2", { class: "page-title detail-title" }, el("a", { href: `/sessions/${s.id}/` }, s.title)),
    el("p", { class: "muted detail-byline" }, `with ${s.mentor.full_name}${s.mentor.headline ? ` · ${s.mentor.headline}` : ""}`),
    el(
      "dl",
      { class: "facts" },
      fact("calendar-days", "Starts", time(s.starts_at, data, { year: true })),
      fact("clock", "Length", minutesLabel(s.duration_minutes)),
      fact("currency-rupee", "Price", rupees(s.price_paise)),
      fact("clipboard-document-list", "Booked", time(b.created_at, data)),
    ),
  );
  const box = el("section", { class: "card booking-box" }, el("h2", { id: "booking-heading", class: "sr-only" }, "Your booking"), ...bookingBox(b, data));
  return {
    title: `${s.title} · Booking · PeerLearn`,
    heading: "Booking",
    nodes: [back(!isUpcoming(b, data.now)), el("div", { class: "detail-layout booking-detail" }, head, el("aside", { class: "detail-aside", "aria-labelledby": "booking-heading" }, box))],
  };
}

function bookingBox(b, data) {
  const { now } = data;
  const s = b.session;
  const status = (iconName, text, tone = "") => el("p", { class: `booking-status${tone ? ` booking-status-${tone}` : ""}` }, icon(iconName, 20), el("strong", {}, text));
  const nodes = [];
  if (queuedCancel(data, b.id)) {
    return [
      status("clock", "Cancellation waiting to sync", "held"),
      el("p", { class: "muted" }, "You cancelled this booking while offline. It is sent when you're back online; until then the seat is still yours."),
    ];
  }
  if (b.state === "held" && !expiredHold(b, now)) {
    nodes.push(status("clock", "Seat held for you", "held"));
    nodes.push(
      s.price_paise
        ? el("p", {}, "Complete payment by ", time(b.hold_expires_at, data), " to confirm your seat. Payments need a connection.")
        : el("p", {}, "This seat is yours to take until ", time(b.hold_expires_at, data), ". Take it from this page when you're back online."),
    );
  } else if (b.state === "expired" || expiredHold(b, now)) {
    nodes.push(status("information-circle", "The hold ended"));
    nodes.push(el("p", { class: "muted" }, "The seat was released because the booking was not completed in time."));
  } else if (b.state === "cancelled") {
    const mentorCancelled = s.state === "cancelled";
    nodes.push(el("p", { class: "booking-status" }, icon("x-mark", 20), el("strong", {}, mentorCancelled ? "The mentor cancelled this session" : "Cancelled", !mentorCancelled && b.cancelled_at ? [" ", time(b.cancelled_at, data)] : null)));
    let refund;
    if (b.refund_paise) refund = `${rupees(b.refund_paise)} refunded to how you paid.`;
    else if (!s.price_paise) refund = "The session was free, so there was nothing to refund.";
    else if (b.confirmed_at) refund = "No refund: it was cancelled too close to the start.";
    else refund = "Nothing was paid, so nothing was charged.";
    nodes.push(el("p", { class: `quote-note${b.refund_paise ? " quote-ok" : ""}` }, icon("banknotes", 18), el("span", {}, refund)));
  } else if (isUpcoming(b, now)) {
    nodes.push(status("check-circle", "You're booked", "ok"));
    const opens = new Date(ms(s.starts_at) - ROOM_OPENS_MINUTES_BEFORE * 60000).toISOString();
    nodes.push(
      s.state === "live"
        ? el("p", {}, "The session is live now. Joining the room needs a connection.")
        : el("p", { class: "muted" }, `The room opens ${ROOM_OPENS_MINUTES_BEFORE} minutes before the start, at `, time(opens, data, { timeOnly: true }), "."),
    );
  } else {
    nodes.push(status("check-circle", s.state === "cancelled" ? "The mentor cancelled this session" : "This session has ended"));
  }
  if (canCancel(b, now)) nodes.push(...cancelForm(b, data));
  return nodes;
}

// What cancelling now gives back (services.cancellation_quote), shown before the button.
function cancelForm(b, data) {
  const s = b.session;
  const paid = b.state === "confirmed" ? s.price_paise : 0;
  const cutoff = new Date(ms(s.starts_at) - FULL_REFUND_HOURS_BEFORE * 3600000).toISOString();
  let quote;
  if (!paid) quote = el("span", {}, s.price_paise ? "You have not paid, so nothing is charged. The held seat is released." : "This session is free, so there is nothing to refund.");
  else if (data.now <= ms(cutoff)) quote = el("span", {}, `Cancel now and get ${rupees(paid)} back: full refunds until `, time(cutoff, data), ".");
  else quote = el("span", {}, "Too late for a refund: full refunds ended ", time(cutoff, data), ".");
  return [
    el("p", { class: `quote-note${paid && data.now <= ms(cutoff) ? " quote-ok" : ""}` }, icon("information-circle", 18), quote),
    postForm(`/bookings/${b.id}/cancel/`, { class: "offline-cancel" }, {}, el("button", { class: "btn btn-danger btn-block", type: "submit" }, "Cancel booking")),
  ];
}

// --- learner: requests ----------------------------------------------------------------------------
function learnerRequests(data) {
  const sending = data.waiting.filter((i) => i.name === "request.create");
  const sorted = [...data.requests].sort((a, b) => ms(b.created_at) - ms(a.created_at) || b.id - a.id);
  const cards = [...sending.map((item) => sendingCard(item, data)), ...sorted.map((r) => requestCard(r, data))];
  return {
    title: "Requests · PeerLearn",
    heading: "Requests",
    nodes: [
      el("p", { class: "muted tab-note" }, "Sessions you asked mentors for. A mentor accepts one of your times, proposes another time or price, or declines with a reason. Requests expire at your earliest time or after 48 hours."),
      cards.length
        ? el("ul", { class: "list" }, cards)
        : emptyState("chat-bubble-left-right", "You have not requested a session yet. Open a mentor's profile to ask for a time that suits you.", ["/mentors/", "Find a mentor"]),
    ],
  };
}

function requestFacts(r) {
  const lines = (r.description || "").split("\n").flatMap((line, i) => (i ? [el("br"), line] : [line]));
  return [
    el("p", { class: "muted" }, `${minutesLabel(r.duration_minutes)} · budget ${r.budget_paise ? rupees(r.budget_paise) : "₹0 (free)"}`),
    r.description ? el("p", { class: "request-description" }, lines) : null,
  ];
}

function timesList(times, data) {
  return times.flatMap((t, i) => (i ? ["; ", time(t, data)] : [time(t, data)]));
}

function sendingCard(item, data) {
  const args = item.args;
  return el(
    "li",
    { class: "card request-card" },
    el("div", { class: "request-head" }, el("div", {}, el("h2", { class: "request-topic" }, args.topic || "Session request"), el("p", { class: "muted" }, `to ${mentorName(data, args.mentor)} · made offline `, time(item.createdAt, data))), waitingChip("Waiting to send")),
    ...requestFacts(args),
    (args.preferred_times || []).length ? el("p", { class: "muted" }, "Your times: ", timesList(args.preferred_times, data), ".") : null,
  );
}

function requestCard(r, data) {
  const state = shownRequestState(r, data.now);
  const answer = queuedAnswer(data, r.id);
  const mentorFirst = firstName(r.mentor_name);
  const body = [];
  if (state === "pending") {
    body.push(el("p", { class: "muted" }, "Your times: ", timesList(r.preferred_times || [], data), ". The mentor can answer until ", time(r.expires_at, data), "."));
  } else if (state === "countered") {
    const price = r.counter_price_paise ? rupees(r.counter_price_paise) : "free";
    body.push(
      el(
        "div",
        { class: "quote-note counter-offer" },
        icon("chat-bubble-left-right", 18),
        el("div", {}, el("p", {}, el("strong", {}, `${mentorFirst} proposed `, time(r.counter_starts_at, data), ` for ${price}.`)), el("p", { class: "muted" }, "Answer by ", time(r.expires_at, data), ".", r.counter_price_paise ? " Accepting holds your seat until you pay." : "")),
      ),
    );
    if (!answer) {
      // One form per answer: a queued form is read without the button that sent it.
      const action = `/dashboard/learner/requests/${r.id}/answer/`;
      body.push(
        el(
          "div",
          { class: "row-actions" },
          postForm(action, {}, { version: r.version, answer: "accept" }, el("button", { class: "btn btn-primary", type: "submit" }, icon("check", 18), " Accept offer")),
          postForm(action, {}, { version: r.version, answer: "decline" }, el("button", { class: "btn btn-secondary", type: "submit" }, "Decline offer")),
        ),
      );
    }
  } else if (state === "accepted" && r.session_id) {
    const booking = data.bookings.find((b) => b.session_id === r.session_id);
    const session = data.sessions.find((s) => s.id === r.session_id);
    body.push(
      el(
        "p",
        {},
        icon("check-circle", 18),
        session ? [" Booked for ", time(session.starts_at, data), ". "] : " Booked. ",
        el("a", { class: "btn btn-link", href: booking ? bookingUrl(booking) : `/sessions/${r.session_id}/` }, booking ? "Open the booking" : "Open the session"),
      ),
    );
  } else if (state === "declined") {
    if (r.decline_reason) body.push(el("p", { class: "muted" }, `Reason: ${r.decline_reason}`));
    body.push(el("a", { class: "btn btn-secondary", href: `/mentors/${r.mentor_id}/` }, `Ask ${mentorFirst} again`));
  } else if (state === "expired") {
    body.push(el("p", { class: "muted" }, "No answer in time, so it expired. You can send a new request with other times."));
  }
  if (answer) body.push(el("p", { class: "muted" }, `“${answer.label}” is waiting to sync.`));
  else if (isOpenRequest(r, data.now)) {
    body.push(postForm(`/dashboard/learner/requests/${r.id}/withdraw/`, { class: "request-withdraw" }, {}, el("button", { class: "btn btn-ghost", type: "submit" }, "Withdraw request", el("span", { class: "sr-only" }, `: ${r.topic}`))));
  }
  return el(
    "li",
    { class: "card request-card", id: `request-${r.id}` },
    el(
      "div",
      { class: "request-head" },
      el("div", {}, el("h2", { class: "request-topic" }, r.topic), el("p", { class: "muted" }, "with ", el("a", { href: `/mentors/${r.mentor_id}/` }, r.mentor_name), " · sent ", time(r.created_at, data))),
      el("div", { class: "row-actions" }, chip(state, REQUEST_STATES[state] || state), answer ? waitingChip() : null),
    ),
    ...requestFacts(r),
    ...body,
  );
}

// --- mentor: home ---------------------------------------------------------------------------------
function mentorHome(data) {
  const { now, zone } = data;
  const today = dayIn(now, zone);
  const todays = data.sessions.filter((s) => s.state !== "cancelled" && dayIn(s.starts_at, zone) === today);
  const upcoming = data.sessions.filter((s) => s.state === "scheduled" && ms(s.starts_at) > now);
  const byStart = (a, b) => ms(a.starts_at) - ms(b.starts_at) || a.id - b.id;
  const pending = data.requests.filter((r) => r.state === "pending" && ms(r.expires_at) > now).sort((a, b) => ms(a.expires_at) - ms(b.expires_at) || a.id - b.id);
  const seats = (s) => `${s.seats_taken ?? 0}/${s.capacity} booked`;
  const sessionItem = (s, extra) => el("li", { class: "card list-item list-item-wrap" }, el("div", {}, el("strong", {}, el("a", { href: `/sessions/${s.id}/` }, s.title)), el("p", { class: "muted" }, time(s.starts_at, data), ` · ${extra(s)}`)), s.state === "live" ? chip("live", "Live now") : chip(s.state, SESSION_STATES[s.state] || s.state));
  return {
    title: "Mentor home · PeerLearn",
    heading: `Hi ${firstName(data.profile.full_name)}`,
    nodes: [
      section(
        "requests-heading",
        "Pending requests",
        pending.length ? ["/dashboard/mentor/requests/", "All requests"] : null,
        pending.length ? el("ul", { class: "list" }, pending.map((r) => pendingRequest(r, data))) : el("p", { class: "muted" }, "No requests are waiting for you."),
      ),
      section("today-heading", "Today", null, todays.length ? el("ul", { class: "list" }, todays.sort(byStart).map((s) => sessionItem(s, seats))) : el("p", { class: "muted" }, "Nothing scheduled today.")),
      section(
        "next-heading",
        "Coming up",
        ["/dashboard/mentor/sessions/", "All sessions"],
        upcoming.length
          ? el("ul", { class: "list" }, upcoming.sort(byStart).slice(0, 6).map((s) => sessionItem(s, (x) => `${rupees(x.price_paise)} · ${seats(x)}`)))
          : emptyState("calendar-days", "No sessions scheduled yet."),
      ),
    ],
  };
}

function pendingRequest(r, data) {
  const times = r.preferred_times || [];
  const answer = queuedAnswer(data, r.id);
  let action = null;
  if (answer) action = el("div", { class: "row-actions" }, waitingChip(), el("span", { class: "muted" }, answer.label));
  else if (times.length) {
    action = postForm(
      `/dashboard/mentor/requests/${r.id}/accept/`,
      {},
      { version: r.version, next: "/dashboard/mentor/", starts_at: times[0] },
      el("button", { class: "btn btn-primary", type: "submit" }, icon("check", 18), el("span", {}, "Accept ", time(times[0], data))),
    );
  }
  return el(
    "li",
    { class: "card list-item list-item-wrap" },
    el(
      "div",
      {},
      el("strong", {}, r.topic),
      el("p", { class: "muted" }, `from ${r.learner_name} · ${minutesLabel(r.duration_minutes)} · ${r.budget_paise ? rupees(r.budget_paise) : "free"}`),
      el("p", { class: "muted" }, "Answer by ", time(r.expires_at, data), times.length > 1 ? ` · ${plural(times.length, "time")} proposed` : ""),
    ),
    action,
  );
}

// --- notifications (any role) ----------------------------------------------------------------------
// The latest ones the last pull brought; marking read offline queues "notifications.read" (the
// forms post to the server's routes, which offline.js reads as mutations) and shows as waiting.
function notificationsPage(data) {
  const unreadOnly = new URLSearchParams(location.search).get("unread") === "1";
  const allQueued = data.waiting.some((i) => i.name === "notifications.read_all");
  const queued = new Set(data.waiting.filter((i) => i.name === "notifications.read").flatMap((i) => i.args?.ids || []));
  const waitingRead = (n) => !n.read_at && (allQueued || queued.has(n.id));
  const all = [...data.notifications].sort((a, b) => b.id - a.id);
  const unread = all.filter((n) => !n.read_at && !waitingRead(n));
  const rows = unreadOnly ? all.filter((n) => !n.read_at) : all;
  const here = `${location.pathname}${location.search}`;
  const tab = (href, label, current, count) =>
    el("a", { class: "tab", href, "aria-current": current ? "page" : null }, label, count === undefined ? null : [" ", el("span", { class: "tab-count" }, String(count))]);
  const bar = el(
    "div",
    { class: "notifications-bar" },
    el("nav", { class: "tabs", "aria-label": "Which notifications" }, tab("/dashboard/notifications/", "All", !unreadOnly), tab("/dashboard/notifications/?unread=1", "Unread", unreadOnly, unread.length)),
    unread.length
      ? postForm("/dashboard/notifications/read-all/", { "data-offline-label": "all notifications" }, { next: here }, el("button", { class: "btn btn-secondary", type: "submit" }, icon("check", 18), " Mark all read"))
      : null,
  );
  const row = (n) => {
    const waiting = waitingRead(n);
    const isUnread = !n.read_at && !waiting;
    let action = null;
    if (waiting) action = waitingChip("Read · waiting to sync");
    else if (isUnread) {
      action = postForm(
        `/dashboard/notifications/${n.id}/read/`,
        { class: "row-actions", "data-offline-label": n.title },
        { next: here },
        el("button", { class: "btn btn-ghost", type: "submit" }, "Mark read", el("span", { class: "sr-only" }, `: ${n.title}`)),
      );
    }
    return el(
      "li",
      { class: `card list-item list-item-wrap notification-row${isUnread ? " is-unread" : ""}`, id: `notification-${n.id}`, "data-notification-id": n.id },
      el("span", { class: "unread-dot", "aria-hidden": "true" }),
      el(
        "div",
        { class: "notification-text" },
        el("strong", {}, n.url ? el("a", { href: n.url }, n.title) : n.title),
        n.body ? el("p", {}, n.body) : null,
        el("p", { class: "muted" }, el("time", { datetime: n.created_at }, ago(n.created_at, data)), isUnread ? [" · ", el("span", { class: "unread-label" }, "Unread")] : null),
      ),
      action,
    );
  };
  let content;
  if (rows.length) content = el("ul", { class: "list notification-list" }, rows.map(row));
  else if (unreadOnly) content = emptyState("check-circle", "You're all caught up: nothing unread.");
  else content = emptyState("bell", "No notifications on this device yet. They are saved here each time PeerLearn syncs.");
  return {
    title: "Notifications · PeerLearn",
    heading: "Notifications",
    nodes: [
      el("p", { class: "muted", "data-synced-at": data.syncedAt }, `Last synced ${ago(data.syncedAt, data)}. This device keeps your latest 100 notifications.`),
      bar,
      content,
    ],
  };
}

// --- rendering -----------------------------------------------------------------------------------
function route(pathname) {
  for (const entry of ROUTES) {
    const match = entry.path.exec(pathname);
    if (match) return { ...entry, match };
  }
  return null;
}

// Draws the page for location.pathname from the store when there is no connection. Returns
// whether it did: other pages, another role's pages and a store never synced are left alone.
export async function renderOffline(db) {
  const main = document.getElementById("main");
  const found = route(location.pathname);
  if (online() || !db || !main || !found) return false;
  const ticket = ++renders;
  const data = await load(db);
  if (ticket !== renders || online()) return false; // a newer render (or the connection) won
  if (!data.syncedAt || (found.role && data.profile?.role !== found.role)) return false;
  const page = found.view(data, found.match);
  main.replaceChildren(banner(data), ...page.nodes);
  main.dataset.offlineView = found.view.name;
  document.title = page.title;
  const heading = document.querySelector(".topbar-title");
  if (heading) heading.textContent = page.heading;
  for (const link of document.querySelectorAll(".sidebar-nav a, .bottom-nav a")) {
    if (link.pathname === found.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  return true;
}

// Back online, the drawn page stays until the user asks for the server's (a reload would swallow
// the "changes applied" toasts of the replay).
function offerRefresh() {
  const shown = document.querySelector("[data-offline-banner]");
  if (!shown) return;
  const refresh = el("button", { type: "button", class: "btn btn-secondary" }, "Refresh");
  refresh.addEventListener("click", () => location.reload());
  shown.replaceChildren(icon("wifi", 22), el("div", {}, el("strong", {}, "You're back online."), el("p", { class: "muted" }, "Queued changes are being sent. Refresh to see the latest.")), refresh);
  shown.classList.add("offline-view-banner-online");
}

// Offline, or "online" while the server cannot be reached (offline.js marks <html> then).
const online = () => navigator.onLine && document.documentElement.dataset.unreachable !== "true";

export function start(db) {
  if (!db) return;
  const redraw = () => !online() && renderOffline(db);
  document.addEventListener("peerlearn:outbox", redraw);
  document.addEventListener("peerlearn:unreachable", redraw);
  addEventListener("offline", redraw);
  addEventListener("online", offerRefresh);
  redraw();
}
