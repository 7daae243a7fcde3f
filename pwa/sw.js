// PeerLearn service worker. backend/core/pwa.py serves it at /sw.js and fills in VERSION and
// PRECACHE: this deploy's real static URLs, so VERSION changes with every change to the shell.
// It reads as a route table (ROUTES); the strategies and the per-user cache plumbing follow.

{% load static %}const VERSION = "{{ version }}";
const PRECACHE = JSON.parse("{{ precache_json|escapejs }}");
// The offline store and outbox (self.idb, self.PeerLearnSync), shared with the pages.
importScripts(...JSON.parse("{{ sync_scripts_json|escapejs }}"));
const OFFLINE_URL = "/offline/";
const NETWORK_TIMEOUT_MS = 3000;
// Right after a write (a form post, an API change) pages wait for the server however slow it
// is: the answer shows the change (and its toast), a cached copy would not.
const FRESH_AFTER_WRITE_MS = 10000;

const SHELL_CACHE = `shell-${VERSION}`;
const STATIC_CACHE = `static-${VERSION}`;
const userCache = (kind, userId) => `${kind}-${VERSION}-u${userId}`; // kind: "pages" or "api"
const CACHE_NAME = /^(shell|static|pages|api)-([0-9a-z]+)(?:-u(\d+))?$/;

// Pages and reads that must always come from the server: signing in and out, secrets in URLs,
// the admin, live rooms and sockets, and the sync API (its client keeps its own data).
const NETWORK_ONLY = [
  "/api/auth/",
  "/api/sync/",
  "/login/",
  "/logout/",
  "/register/",
  "/password-reset/",
  "/account/2fa/",
  "/admin/",
  "/room/",
  "/ws/",
  "/sw.js",
  "/manifest.webmanifest",
];
// The routes offline-views.js draws from the offline store (keep the two lists in step).
const DRAWN_FROM_STORE = [
  /^\/dashboard\/learner\/(bookings\/(\d+\/)?|requests\/)?$/,
  /^\/dashboard\/mentor\/$/,
  /^\/dashboard\/notifications\/$/,
];
// /dashboard/ redirects to the user's own dashboard, which is what the cache holds.
const HOME_ALIASES = { "/dashboard/": ["/dashboard/learner/", "/dashboard/mentor/", "/dashboard/admin/"] };

const ROUTES = [
  // [name, matches(request, url), strategy(event)]
  ["cross-origin", (request, url) => url.origin !== self.location.origin, networkOnly],
  ["writes", (request) => request.method !== "GET", networkOnly],
  ["auth, admin, rooms", (request, url) => NETWORK_ONLY.some((p) => url.pathname.startsWith(p)), networkOnly],
  ["static files", (request, url) => url.pathname.startsWith("/static/"), cacheFirst],
  ["API reads", (request, url) => url.pathname.startsWith("/api/") && request.mode !== "navigate", userNetworkFirst],
  ["uploaded photos", (request, url) => url.pathname.startsWith("/media/"), userNetworkFirst],
  ["pages", (request) => request.mode === "navigate", pageNetworkFirst],
  ["anything else", () => true, networkOnly],
];

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const [, , strategy] = ROUTES.find(([, matches]) => matches(event.request, url));
  strategy(event);
});

// --- Lifecycle --------------------------------------------------------------------------------
let updateAccepted = false; // set when the user clicked "Reload" on the update prompt

self.addEventListener("install", (event) => {
  // No skipWaiting() here: a new version waits until the user accepts it.
  event.waitUntil(precacheShell());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(dropOtherVersions().then(() => (updateAccepted ? self.clients.claim() : undefined)));
});

async function precacheShell() {
  const cache = await caches.open(SHELL_CACHE);
  // cache: "reload" skips the HTTP cache (plain-named modules may be stale there); the offline
  // page is fetched without cookies, so it never holds anyone's details.
  const requests = PRECACHE.map(
    (url) => new Request(url, { cache: "reload", credentials: url === OFFLINE_URL ? "omit" : "same-origin" }),
  );
  await cache.addAll(requests);
}

async function dropOtherVersions() {
  const names = await caches.keys();
  const stale = names.filter((name) => {
    const version = CACHE_NAME.exec(name)?.[2];
    return version !== undefined && version !== VERSION;
  });
  await Promise.all(stale.map((name) => caches.delete(name)));
}

// --- Messages from pages ----------------------------------------------------------------------
const MESSAGES = {
  user: (data) => rememberUser(data.id),
  logout: () => forgetUsers(),
  "skip-waiting": () => {
    updateAccepted = true;
    return self.skipWaiting();
  },
};

self.addEventListener("message", (event) => {
  const handle = MESSAGES[event.data?.type];
  if (handle) event.waitUntil(Promise.resolve(handle(event.data)));
});

// --- Background Sync --------------------------------------------------------------------------
// The outbox is replayed here too, so changes made offline reach the server even when no page is
// open; open pages are then asked to sync (and redraw). A failed replay rejects, so the browser
// tries the sync event again later.
self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(replayOutbox());
});

async function replayOutbox() {
  const userId = await signedInUser();
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  if (userId && !windows.length) {
    const db = await PeerLearnSync.open(userId);
    try {
      await PeerLearnSync.push(db);
    } finally {
      db.close();
    }
  }
  for (const client of windows) client.postMessage({ type: "replay-outbox" });
}

// A form post the network could not carry: offline-capable ones (see sync-engine.js) go into
// the outbox and the user is sent back where they were; anything else gets the offline page.
async function queueFormPost(request) {
  const userId = await signedInUser();
  const url = new URL(request.url);
  if (!userId) return offlinePage();
  const db = await PeerLearnSync.open(userId);
  try {
    const profile = await db.get("meta", "profile");
    const mutation = PeerLearnSync.formMutation(url.pathname, await request.formData(), profile?.timezone);
    if (!mutation) return offlinePage();
    await PeerLearnSync.enqueue(db, mutation);
    await db.put("meta", mutation.label, "queuedNotice"); // the next page says it was saved
  } finally {
    db.close();
  }
  self.registration.sync?.register("outbox").catch(() => undefined);
  const back = request.referrer && new URL(request.referrer).origin === url.origin ? request.referrer : "/dashboard/";
  return Response.redirect(back, 303);
}

// --- Web Push ---------------------------------------------------------------------------------
// Payloads are JSON {id, title, body, url, category} (push/, backend/notifications/tasks.py). One
// tag per topic (a session's reminders: the 10-minute one replaces the 30-minute one) or else per
// category, so the tray holds the latest of each kind; the bell keeps every one.
const PUSH_ICON = "{% static 'icons/icon-192.png' %}";
const PUSH_BADGE = "{% static 'icons/icon-192.png' %}";

self.addEventListener("push", (event) => event.waitUntil(showPush(event.data)));
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openFromNotification(event.notification.data || {}));
});

function showPush(message) {
  let data = {};
  try {
    data = message ? message.json() : {};
  } catch (_) {
    data = { body: message.text() };
  }
  const tag = data.topic || (data.category ? `peerlearn-${data.category}` : undefined);
  return self.registration.showNotification(data.title || "PeerLearn", {
    body: data.body || "",
    icon: PUSH_ICON,
    badge: PUSH_BADGE,
    tag,
    renotify: Boolean(tag), // a replaced notice still alerts
    data: { url: data.url || "/dashboard/", id: data.id ?? null },
    actions: [{ action: "open", title: "Open" }],
  });
}

// Focus an open PeerLearn window and take it to the notice's page (a reminder's is the room), or
// open one. The notice counts as read: queued through the outbox, sent now if the network is up.
async function openFromNotification({ url, id }) {
  const target = new URL(url || "/dashboard/", self.location.origin);
  const href = target.origin === self.location.origin ? target.href : new URL("/dashboard/", self.location.origin).href;
  const opened = focusOrOpen(href);
  if (Number.isInteger(id)) await markReadFromWorker(id).catch(() => undefined);
  return opened;
}

async function focusOrOpen(href) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const same = windows.find((client) => client.url === href);
  if (same) return same.focus();
  for (const client of windows) {
    try {
      const focused = await client.focus();
      // navigate() works only for windows this worker controls.
      if (focused && "navigate" in focused) return await focused.navigate(href);
    } catch (_) {
      // not ours to steer: try the next one, or open a window
    }
  }
  return self.clients.openWindow(href);
}

async function markReadFromWorker(id) {
  const userId = await signedInUser();
  if (!userId) return;
  const db = await PeerLearnSync.open(userId);
  try {
    await PeerLearnSync.enqueue(db, { name: "notifications.read", args: { ids: [id] }, label: "Mark notification read" });
    await PeerLearnSync.push(db);
  } finally {
    db.close();
  }
}

// --- Strategies -------------------------------------------------------------------------------
let lastWriteAt = 0;

function networkOnly(event) {
  const { request } = event;
  if (request.method !== "GET") lastWriteAt = Date.now();
  if (request.method === "POST" && new URL(request.url).pathname === "/logout/") {
    event.respondWith(signOutThrough(request));
  } else if (request.method === "POST" && request.mode === "navigate") {
    event.respondWith(fetch(request.clone()).catch(() => queueFormPost(request)));
  } else if (request.mode === "navigate" && request.method === "GET") {
    event.respondWith(fetch(request).catch(() => offlinePage()));
  }
  // Anything else is not intercepted: the browser fetches it as if there were no worker.
}

function cacheFirst(event) {
  event.respondWith(
    (async () => {
      const hit = (await matchIn(SHELL_CACHE, event.request)) || (await matchIn(STATIC_CACHE, event.request));
      if (hit) return hit;
      const response = await fetch(event.request);
      if (isCacheable(response)) {
        const copy = response.clone();
        event.waitUntil(caches.open(STATIC_CACHE).then((cache) => cache.put(event.request, copy)));
      }
      return response;
    })(),
  );
}

// Network first for a signed-in user's reads, their own cache when the network fails or is slow.
function userNetworkFirst(event) {
  event.respondWith(
    (async () => {
      const userId = await signedInUser();
      if (!userId) return fetch(event.request); // nobody to keep it for
      const name = userCache("api", userId);
      const epoch = signOutEpoch;
      const answer = await networkFirst(event, {
        keep: (copy) => keepForUser(name, userId, epoch, event.request, copy),
        fromCache: () => matchIn(name, event.request),
      });
      return answer || Response.error();
    })(),
  );
}

// Pages are kept under the user the page itself names (<html data-user-id>), so a page never
// lands in another user's cache, not even the first one after signing in.
function pageNetworkFirst(event) {
  event.respondWith(
    (async () => {
      const userId = await signedInUser();
      const epoch = signOutEpoch;
      const answer = await networkFirst(event, {
        keep: (copy) => keepPage(epoch, event.request, copy),
        fromCache: async () => (userId ? cachedPage(userId, event.request) : undefined),
      });
      return answer || offlinePage();
    })(),
  );
}

// The network, unless it fails or takes longer than NETWORK_TIMEOUT_MS and the cache has a copy;
// a late answer still refreshes the cache. Without a copy, or just after a write, it waits for
// the network. Resolves to undefined when neither has an answer.
async function networkFirst(event, { keep, fromCache }) {
  const network = fetch(event.request).then((response) => {
    if (isCacheable(response)) event.waitUntil(keep(response.clone()));
    return response;
  });
  const patient = Date.now() - lastWriteAt < FRESH_AFTER_WRITE_MS;
  const slow = new Promise((resolve) => patient || setTimeout(resolve, NETWORK_TIMEOUT_MS, "slow"));
  const first = await Promise.race([network, slow]).catch(() => "failed");
  if (first instanceof Response) return first;
  const cached = await fromCache();
  if (cached) {
    event.waitUntil(network.catch(() => undefined));
    return cached;
  }
  return first === "slow" ? network.catch(() => undefined) : undefined;
}

// --- Per-user caches ----------------------------------------------------------------------------
let currentUser; // undefined until known in this worker's life; null when nobody is signed in
let signOutEpoch = 0; // responses fetched before a sign-out are not stored after it

// The worker is stopped when idle and loses its variables; the caches say who was signed in
// (only one user's caches exist at a time, see rememberUser).
async function signedInUser() {
  if (currentUser === undefined) {
    const owned = (await caches.keys()).map((name) => CACHE_NAME.exec(name)).filter((m) => m?.[2] === VERSION);
    currentUser = owned.find((m) => m[3])?.[3] ?? null;
  }
  return currentUser;
}

async function rememberUser(id) {
  if (!/^\d+$/.test(String(id ?? ""))) return;
  currentUser = String(id);
  // Someone else signed in on this browser: the previous user's pages and data go.
  await deleteUserCaches((owner) => owner !== currentUser);
}

async function forgetUsers() {
  currentUser = null;
  signOutEpoch += 1;
  await deleteUserCaches(() => true);
}

async function deleteUserCaches(shouldDelete) {
  const names = await caches.keys();
  const doomed = names.filter((name) => {
    const owner = CACHE_NAME.exec(name)?.[3];
    return owner && shouldDelete(owner);
  });
  await Promise.all(doomed.map((name) => caches.delete(name)));
}

async function signOutThrough(request) {
  const response = await fetch(request);
  // A navigation follows redirects itself, so success is an opaque redirect here.
  if (response.ok || response.type === "opaqueredirect") await forgetUsers();
  return response;
}

const USER_ID = /<html\b[^>]*\sdata-user-id="(\d+)"/;

async function keepPage(epoch, request, response) {
  if (!(response.headers.get("Content-Type") || "").startsWith("text/html")) return;
  const html = await response.text();
  const userId = USER_ID.exec(html.slice(0, 4000))?.[1];
  if (!userId || epoch !== signOutEpoch) return; // anonymous pages are not kept
  await rememberUser(userId);
  const { status, statusText, headers } = response;
  const cache = await caches.open(userCache("pages", userId));
  await cache.put(request, new Response(html, { status, statusText, headers }));
}

async function keepForUser(name, userId, epoch, request, response) {
  if (epoch !== signOutEpoch || currentUser !== userId) return;
  await (await caches.open(name)).put(request, response);
}

async function cachedPage(userId, request) {
  const name = userCache("pages", userId);
  const path = new URL(request.url).pathname;
  // A page offline-views.js can draw from the offline store but never opened on this device:
  // the user's dashboard page will do, and the requested view is drawn into it.
  const anyDashboard = DRAWN_FROM_STORE.some((route) => route.test(path)) ? HOME_ALIASES["/dashboard/"] : [];
  for (const candidate of [request, ...(HOME_ALIASES[path] || []), ...anyDashboard]) {
    const hit = await matchIn(name, candidate);
    if (hit) return hit;
  }
  return undefined;
}

// --- Helpers ------------------------------------------------------------------------------------
function isCacheable(response) {
  return (
    response.status === 200 &&
    response.type === "basic" &&
    !/no-store/i.test(response.headers.get("Cache-Control") || "")
  );
}

async function matchIn(cacheName, request) {
  if (!(await caches.has(cacheName))) return undefined;
  return (await caches.open(cacheName)).match(request, { ignoreVary: true });
}

async function offlinePage() {
  return (await matchIn(SHELL_CACHE, OFFLINE_URL)) || Response.error();
}
