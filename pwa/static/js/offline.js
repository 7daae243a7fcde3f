// Offline for signed-in users: keeps the IndexedDB store in step with the server (pull on start,
// on "online", on a live event, and every minute), queues the forms PRODUCT.md lists as
// offline-capable when there is no connection, replays the outbox, and shows what is waiting.
// The store and the protocol live in sync-engine.js (shared with the service worker).

import { el } from "./dom.js";

const Sync = self.PeerLearnSync;
const root = document.documentElement;
const userId = root.dataset.userId;
const RETRY_MS = 30000;

let db = null;
let toast = () => {};
let syncing = null;
let retryTimer = null;

const NEXT_STEPS = {
  session_full: "The last seat went while you were offline. Join the waitlist or look for another session.",
  seat_taken: "The seat went while you were offline. Join the waitlist or look for another session.",
  already_booked: "You already have a seat in this session.",
  not_bookable: "The session is no longer open for booking.",
  session_started: "The session had started, so it could not be cancelled.",
  stale_request: "The request changed meanwhile: open it again to answer.",
  request_expired: "The request expired before your answer arrived.",
  not_found: "It no longer exists.",
};

function cookie(name) {
  return document.cookie.split("; ").find((c) => c.startsWith(`${name}=`))?.split("=")[1] ?? "";
}

function relative(iso) {
  if (!iso) return "never";
  const minutes = Math.round((Date.now() - new Date(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  return new Date(iso).toLocaleString([], { weekday: "short", hour: "numeric", minute: "2-digit" });
}

// --- the badge and the outbox panel -------------------------------------------------------------
function mountBadge() {
  const host = document.querySelector(".header-actions");
  if (!host || document.getElementById("outbox-badge")) return;
  const badge = el("button", { id: "outbox-badge", type: "button", class: "outbox-badge", hidden: true, "aria-haspopup": "dialog" });
  badge.addEventListener("click", openPanel);
  host.prepend(badge);
  const panel = el("dialog", { id: "outbox-panel", class: "outbox-panel", "aria-labelledby": "outbox-title" });
  panel.addEventListener("click", (event) => {
    if (event.target === panel) panel.close();
  });
  document.body.append(panel);
}

async function refreshBadge() {
  const badge = document.getElementById("outbox-badge");
  if (!badge || !db) return;
  const items = await Sync.outbox(db);
  const waiting = items.filter((i) => i.state === "pending").length;
  const refused = items.filter((i) => i.state === "refused").length;
  badge.hidden = waiting + refused === 0;
  badge.className = `outbox-badge${refused ? " outbox-badge-refused" : ""}`;
  const parts = [];
  if (waiting) parts.push(`${waiting} change${waiting === 1 ? "" : "s"} waiting`);
  if (refused) parts.push(`${refused} not applied`);
  badge.textContent = parts.join(" · ");
  badge.dataset.waiting = String(waiting);
  badge.dataset.refused = String(refused);
  const panel = document.getElementById("outbox-panel");
  if (panel?.open) renderPanel(items);
  document.dispatchEvent(new CustomEvent("peerlearn:outbox", { detail: { items } }));
}

function nextStep(item) {
  const code = item.error?.code;
  const step = el("p", { class: "muted" }, NEXT_STEPS[code] || "");
  const session = item.args?.session;
  if ((code === "session_full" || code === "seat_taken") && session) {
    step.append(
      " ",
      el("a", { href: `/sessions/${session}/` }, "Join the waitlist"),
      " · ",
      el("a", { href: "/sessions/" }, "See similar sessions"),
    );
  }
  return step;
}

function renderPanel(items) {
  const panel = document.getElementById("outbox-panel");
  const list = el("ul", { class: "outbox-list" });
  for (const item of items) {
    const refused = item.state === "refused";
    const row = el(
      "li",
      { class: `outbox-item${refused ? " outbox-item-refused" : ""}` },
      el(
        "div",
        {},
        el("strong", {}, item.label || item.name),
        el("span", { class: `chip ${refused ? "chip-cancelled" : "chip-pending"}` }, refused ? "Not applied" : "Waiting"),
        refused ? el("p", { class: "outbox-reason" }, item.error?.message || "The server refused this change.") : null,
        refused ? nextStep(item) : el("p", { class: "muted" }, `Queued ${relative(item.createdAt)}`),
      ),
    );
    if (refused || item.mutationId === null) {
      const discard = el("button", { type: "button", class: "btn btn-secondary" }, refused ? "Dismiss" : "Discard");
      discard.addEventListener("click", async () => {
        await Sync.discard(db, item.seq);
        await refreshBadge();
      });
      row.append(discard);
    }
    list.append(row);
  }
  const retry = el("button", { type: "button", class: "btn btn-primary" }, "Retry now");
  retry.addEventListener("click", () => syncNow({ announce: true }));
  const close = el("button", { type: "button", class: "btn btn-secondary" }, "Close");
  close.addEventListener("click", () => panel.close());
  panel.replaceChildren(
    el("h2", { id: "outbox-title", class: "section-title" }, "Changes made offline"),
    el("p", { class: "muted" }, navigator.onLine ? "They are sent in the order you made them." : "You're offline. They will be sent when the connection returns."),
    items.length ? list : el("p", {}, "Nothing waiting."),
    el("div", { class: "form-actions" }, close, items.some((i) => i.state === "pending") ? retry : null),
  );
}

async function openPanel() {
  renderPanel(await Sync.outbox(db));
  document.getElementById("outbox-panel").showModal();
}

function showSynced(iso) {
  for (const node of document.querySelectorAll("[data-last-synced]")) {
    node.textContent = navigator.onLine ? `Synced ${relative(iso)}` : `Offline · data from ${relative(iso)}`;
  }
}

// --- the sync loop ---------------------------------------------------------------------------------
async function syncNow({ announce = false } = {}) {
  if (!navigator.onLine) {
    // Nothing to try: the "online" event starts the next sync.
    if (announce) toast("You're offline. Changes stay queued until the connection returns.", "warning");
    return undefined;
  }
  if (syncing) return syncing;
  syncing = (async () => {
    clearTimeout(retryTimer);
    try {
      const before = (await Sync.outbox(db)).filter((i) => i.state === "pending").length;
      const result = await Sync.push(db);
      await Sync.pull(db);
      delete root.dataset.unreachable;
      if (before && (result.applied || result.refused)) {
        if (result.applied) toast(`${result.applied} change${result.applied === 1 ? "" : "s"} made offline ${result.applied === 1 ? "was" : "were"} applied.`, "success");
        if (result.refused) toast(`${result.refused} change${result.refused === 1 ? " was" : "s were"} not applied. Open the outbox to see why.`, "warning");
        document.dispatchEvent(new CustomEvent("peerlearn:synced", { detail: result }));
      }
    } catch (error) {
      if (error instanceof Sync.SyncError && error.status === 0) {
        // The browser says online but the server cannot be reached: offline in all but name.
        root.dataset.unreachable = "true";
        document.dispatchEvent(new CustomEvent("peerlearn:unreachable"));
      }
      if (announce) toast(navigator.onLine ? "Could not reach PeerLearn. We'll keep trying." : "You're offline. Changes stay queued.", "warning");
      if (error.status === 401 || error.status === 403) return; // signed out: nothing to do here
    } finally {
      showSynced(await db.get("meta", "syncedAt"));
      await refreshBadge();
      const pending = (await Sync.outbox(db)).some((i) => i.state === "pending");
      if (pending) retryTimer = setTimeout(syncNow, RETRY_MS);
      syncing = null;
    }
  })();
  return syncing;
}

async function askForBackgroundSync() {
  try {
    const registration = await navigator.serviceWorker?.ready;
    await registration?.sync?.register("outbox");
  } catch (_) {
    // No Background Sync here: the "online" event and the timer replay instead.
  }
}

// --- forms without a connection --------------------------------------------------------------------
// Offline, every post is stopped here (it could only fail); the ones PRODUCT.md lists as
// offline-capable are queued, the rest (payments, say) are kept on the page with a note.
function onSubmit(event) {
  const form = event.target;
  if (navigator.onLine || !(form instanceof HTMLFormElement) || form.method.toLowerCase() !== "post") return;
  if (new URL(form.action, location.href).pathname === "/logout/") return; // pwa.js answers that one
  event.preventDefault();
  // The pressed button's name/value is part of what the form says (Accept vs Decline).
  queueForm(form, new FormData(form, event.submitter));
}

async function queueForm(form, data) {
  const path = new URL(form.action, location.href).pathname;
  const profile = await db.get("meta", "profile");
  const zone = profile?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  const mutation = Sync.formMutation(path, data, zone);
  if (!mutation) {
    const what = /pay|checkout/.test(path) ? "Payments need" : "This needs";
    toast(`${what} a connection. Try again when you're back online.`, "warning");
    return;
  }
  // Name what it is about ("Book session: Postgres tuning clinic"), from the form or the page.
  const subject = form.dataset.offlineLabel || document.querySelector("main h1")?.textContent?.trim();
  if (subject && !mutation.label.includes(":")) mutation.label = `${mutation.label}: ${subject}`;
  await Sync.enqueue(db, mutation);
  askForBackgroundSync(); // not awaited: `ready` never settles where no worker registered
  await refreshBadge();
  toast(`Saved offline: “${mutation.label}”. It will be sent when you're back online.`, "info");
  form.closest("dialog")?.close();
}

let started = null;

export function start(showToast) {
  started ??= begin(showToast);
  return started;
}

async function begin(showToast) {
  if (!Sync || !userId || !("indexedDB" in self)) return undefined;
  toast = showToast;
  db = await Sync.open(userId);
  await db.put("meta", decodeURIComponent(cookie("csrftoken")), "csrf");
  mountBadge();
  document.addEventListener("submit", onSubmit, true);
  addEventListener("online", () => syncNow({ announce: false }));
  addEventListener("offline", async () => showSynced(await db.get("meta", "syncedAt")));
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && navigator.onLine) syncNow();
  });
  // The server's poke: any live event about this user's data means there is something to pull.
  document.addEventListener("peerlearn:event", () => syncNow());
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "replay-outbox") syncNow();
  });
  setInterval(() => navigator.onLine && syncNow(), 60000);
  await refreshBadge();
  showSynced(await db.get("meta", "syncedAt"));
  const notice = await db.get("meta", "queuedNotice"); // a post the service worker queued
  if (notice) {
    await db.delete("meta", "queuedNotice");
    toast(`Saved offline: “${notice}”. It will be sent when you're back online.`, "info");
  }
  if (navigator.onLine) await syncNow();
  return db;
}

// Before signing out (which deletes this device's store): send what is waiting, and say how
// many changes could not be sent, so the user can choose to stay signed in.
export async function flushBeforeSignOut() {
  if (!db) return 0;
  await Promise.race([syncNow(), new Promise((resolve) => setTimeout(resolve, 3000))]);
  return (await Sync.outbox(db)).filter((item) => item.state === "pending").length;
}

export function database() {
  return db;
}

// Queues a mutation made by a script rather than a form (the bell marks a notification read
// while offline), with the same badge, replay and notice as a queued form.
export async function queue(mutation, { quiet = false } = {}) {
  if (!db) return false;
  await Sync.enqueue(db, mutation);
  askForBackgroundSync();
  await refreshBadge();
  if (!quiet) toast(`Saved offline: “${mutation.label}”. It will be sent when you're back online.`, "info");
  return true;
}

// Resolves once start-up (with its first sync) is over and no sync is running; tests wait on it
// before cutting the connection.
export async function settled() {
  await started;
  await syncing;
}
