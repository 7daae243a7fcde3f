// The bell in the dashboard header and the notifications page, kept live. The server renders
// both (the bell is a <details> menu that works without JavaScript, every action a form post);
// this module follows the updates socket (live.js re-dispatches its frames as "peerlearn:event"):
// a new notification raises the count and joins the top of the bell's list, a read one lowers it.
// Offline, opening a notification from the bell queues "notifications.read" and goes to its page.
// base_dashboard.html loads it; it imports only plain-named modules (see live.js).

import { el } from "./dom.js";

const BELL_SIZE = 6; // context_processors.BELL_SIZE
const bell = document.querySelector("[data-bell]");

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function cookie(name) {
  return document.cookie.split("; ").find((c) => c.startsWith(`${name}=`))?.split("=")[1] ?? "";
}

function unreadCount() {
  return Number(bell?.querySelector("[data-bell-count]")?.textContent || 0);
}

function setUnreadCount(count) {
  const n = Math.max(0, count);
  if (bell) {
    bell.querySelector("[data-bell-badge]").hidden = n === 0;
    bell.querySelector("[data-bell-count]").textContent = String(n);
    bell.querySelector("[data-bell-label]").textContent = `${plural(n, "unread notification")}`;
    const readAll = bell.querySelector("[data-bell-read-all]");
    if (readAll) readAll.hidden = n === 0;
  }
  for (const node of document.querySelectorAll("[data-unread-tab-count]")) node.textContent = String(n);
}

// An item as notifications/_item.html draws it.
function bellItem(n) {
  const csrf = el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: decodeURIComponent(cookie("csrftoken")) });
  const next = el("input", { type: "hidden", name: "next", value: n.url || "/dashboard/notifications/" });
  const text = el(
    "span",
    { class: "bell-item-text" },
    el("strong", {}, n.title),
    n.body ? el("span", { class: "bell-item-body" }, n.body) : null,
    el("span", { class: "muted bell-item-time" }, el("time", { datetime: n.created_at }, "just now"), el("span", { class: "sr-only" }, " · unread")),
  );
  const button = el("button", { type: "submit", class: "bell-item-button" }, el("span", { class: "unread-dot", "aria-hidden": "true" }), text);
  const form = el("form", { method: "post", action: `/dashboard/notifications/${n.id}/read/`, "data-notification-open": true, "data-offline-label": n.title }, csrf, next, button);
  return el("li", { class: "bell-item is-unread", "data-notification-id": n.id }, form);
}

function created(n) {
  if (document.querySelector(`.bell-item[data-notification-id="${n.id}"]`)) return; // a repeated frame
  setUnreadCount(unreadCount() + 1);
  const list = bell?.querySelector("[data-bell-list]");
  if (list) {
    list.querySelector("[data-bell-empty]")?.remove();
    list.prepend(bellItem(n));
    while (list.children.length > BELL_SIZE) list.lastElementChild.remove();
  }
  bell?.classList.add("bell-ring");
  setTimeout(() => bell?.classList.remove("bell-ring"), 1200);
}

// Only ids that were unread come in a "notification.read" frame (the service sends what it marked).
function read(ids) {
  setUnreadCount(unreadCount() - ids.length);
  for (const id of ids) {
    for (const row of document.querySelectorAll(`[data-notification-id="${id}"]`)) {
      row.classList.remove("is-unread");
      const label = row.querySelector(".unread-label");
      label?.previousSibling?.remove(); // its " · "
      label?.remove();
      row.querySelector(".bell-item-time .sr-only")?.remove();
      if (row.matches(".notification-row")) row.querySelector("form")?.remove();
    }
  }
}

document.addEventListener("peerlearn:event", (event) => {
  const message = event.detail;
  if (message.event === "notification.created") created(message.data);
  else if (message.event === "notification.read") read(message.data?.ids || []);
});

// --- the menu ----------------------------------------------------------------------------------
if (bell) {
  const summary = bell.querySelector("summary");
  document.addEventListener("click", (event) => {
    if (bell.open && !bell.contains(event.target)) bell.open = false;
  });
  bell.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && bell.open) {
      bell.open = false;
      summary.focus();
    }
  });
}

// Offline, a notification opened from the bell is marked read through the outbox and its page
// opens (the service worker has it if it was seen before). Window capture: before offline.js,
// which would only queue the form and stay here.
addEventListener(
  "submit",
  async (event) => {
    const form = event.target;
    if (navigator.onLine || !(form instanceof HTMLFormElement) || !form.matches("[data-notification-open]")) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const item = form.closest("[data-notification-id]");
    const id = Number(item.dataset.notificationId);
    const offline = await import("./offline.js");
    const queued = await offline.queue({ name: "notifications.read", args: { ids: [id] }, label: `Mark read: ${form.dataset.offlineLabel || "notification"}` }, { quiet: true });
    if (queued && item.classList.contains("is-unread")) read([id]);
    location.assign(form.elements.next.value);
  },
  true,
);
