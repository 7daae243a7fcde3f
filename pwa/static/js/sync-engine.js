// The offline store and outbox, shared by pages and the service worker (which loads this file
// with importScripts, so it is a classic script exposing `self.PeerLearnSync`, on top of idb's
// UMD build exposing `self.idb`).
//
// One IndexedDB database per signed-in user, "peerlearn-<userId>":
//   bookings, sessions, requests,
//   notifications                  records from GET /api/sync/pull, keyed by id
//   meta                           cursor, syncedAt, profile, clientId, nextMutationId, csrf
//   outbox                         queued mutations, keyed by a local sequence number
// An outbox item: {seq, name, args, label, state: "pending" | "refused", mutationId, error,
// createdAt}. `mutationId` is given when the item is first sent and never changes after, so a
// resend after a lost answer is recognised by the server as a duplicate.
(function (global) {
  "use strict";

  // Version 2 added "notifications". An upgrade only adds what the older database lacks, so a
  // device that synced under version 1 keeps its outbox (and the changes waiting in it).
  const DB_VERSION = 2;
  const COLLECTIONS = ["bookings", "sessions", "requests", "notifications"];
  const BATCH = 100;
  const LOCK = "peerlearn-sync";

  class SyncError extends Error {
    constructor(message, { status = 0, code = "", temporary = true } = {}) {
      super(message);
      this.status = status;
      this.code = code;
      this.temporary = temporary;
    }
  }

  const dbName = (userId) => `peerlearn-${userId}`;

  function open(userId) {
    return global.idb.openDB(dbName(userId), DB_VERSION, {
      upgrade(db, oldVersion) {
        if (oldVersion < 1) {
          for (const name of ["bookings", "sessions", "requests"]) db.createObjectStore(name, { keyPath: "id" });
          db.createObjectStore("meta");
          db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
        }
        if (oldVersion < 2) db.createObjectStore("notifications", { keyPath: "id" });
      },
      // A newer version opening elsewhere (a tab with new code, the worker) waits for this
      // connection: let it go rather than block the upgrade; the page reloads into the new code.
      blocking(currentVersion, blockedVersion, event) {
        event.target.close();
      },
    });
  }

  // Web Locks keep two tabs and the worker from pushing or pulling at the same moment.
  function exclusive(task) {
    const locks = global.navigator && global.navigator.locks;
    return locks ? locks.request(LOCK, task) : task();
  }

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (error) {
      throw new SyncError("offline", { temporary: true });
    }
    return response;
  }

  // --- pull ---------------------------------------------------------------------------------
  async function pull(db) {
    return exclusive(async () => {
      const cursor = await db.get("meta", "cursor");
      let response = await getJson(`/api/sync/pull${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""}`);
      if (response.status === 400 && cursor) {
        // A cursor the server no longer accepts: start over from a snapshot.
        await db.delete("meta", "cursor");
        response = await getJson("/api/sync/pull");
      }
      if (!response.ok) throw new SyncError(`pull failed (${response.status})`, { status: response.status });
      const body = await response.json();
      const tx = db.transaction([...COLLECTIONS, "meta"], "readwrite");
      for (const name of COLLECTIONS) {
        const store = tx.objectStore(name);
        const changes = body.changes[name] || { upsert: [], delete: [] };
        if (body.reset) store.clear();
        for (const row of changes.upsert) store.put(row);
        for (const id of changes.delete) store.delete(id);
      }
      const meta = tx.objectStore("meta");
      if (body.profile) meta.put(body.profile, "profile");
      meta.put(body.cursor, "cursor");
      meta.put(new Date().toISOString(), "syncedAt");
      await tx.done;
      return body;
    });
  }

  // --- outbox -------------------------------------------------------------------------------
  async function enqueue(db, { name, args, label }) {
    const item = { name, args, label, state: "pending", mutationId: null, error: null, createdAt: new Date().toISOString() };
    item.seq = await db.add("outbox", item);
    return item;
  }

  const outbox = (db) => db.getAll("outbox");

  async function discard(db, seq) {
    const item = await db.get("outbox", seq);
    // A sent item may already be applied: only unsent or refused items can be dropped.
    if (!item || (item.mutationId !== null && item.state !== "refused")) return false;
    await db.delete("outbox", seq);
    return true;
  }

  async function clientId(db) {
    let id = await db.get("meta", "clientId");
    if (!id) {
      id = global.crypto.randomUUID();
      await db.put("meta", id, "clientId");
    }
    return id;
  }

  // Gives ids to pending items that have none, in queue order, and returns what is to send.
  async function numberPending(db, from) {
    const tx = db.transaction(["outbox", "meta"], "readwrite");
    let next = from || (await tx.objectStore("meta").get("nextMutationId")) || 1;
    const items = await tx.objectStore("outbox").getAll();
    const pending = items.filter((item) => item.state === "pending");
    for (const item of pending) {
      if (from || item.mutationId === null) {
        item.mutationId = next++;
        tx.objectStore("outbox").put(item);
      }
    }
    tx.objectStore("meta").put(next, "nextMutationId");
    await tx.done;
    return pending.sort((a, b) => a.mutationId - b.mutationId);
  }

  async function settle(db, item, result) {
    const refused = result.status === "refused" || (result.status === "duplicate" && result.outcome === "refused");
    if (refused) {
      await db.put("outbox", { ...item, state: "refused", error: result.error || { code: "refused", message: "" } });
    } else {
      await db.delete("outbox", item.seq);
    }
  }

  // Sends pending items in batches. Returns {applied, refused, waiting}. Throws SyncError when
  // the network or the server fails (items stay queued, in order).
  async function push(db) {
    return exclusive(async () => {
      const csrf = await db.get("meta", "csrf");
      const id = await clientId(db);
      let pending = await numberPending(db);
      const summary = { applied: 0, refused: 0, waiting: 0 };
      let renumbered = false;
      while (pending.length) {
        const batch = pending.slice(0, BATCH);
        let response;
        try {
          response = await fetch("/api/sync/push", {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf || "" },
            body: JSON.stringify({
              client_id: id,
              mutations: batch.map((item) => ({ id: item.mutationId, name: item.name, args: item.args })),
            }),
          });
        } catch (error) {
          throw new SyncError("offline", { temporary: true });
        }
        if (!response.ok) {
          const permanent = [400, 401, 403, 413].includes(response.status);
          throw new SyncError(`push failed (${response.status})`, { status: response.status, temporary: !permanent });
        }
        const body = await response.json();
        const byId = new Map(batch.map((item) => [item.mutationId, item]));
        let stop = null;
        for (const result of body.results) {
          const item = byId.get(result.id);
          if (!item) continue;
          if (result.status === "gap" || result.status === "retry") {
            stop = result;
            break;
          }
          await settle(db, item, result);
          summary[result.status === "refused" || result.outcome === "refused" ? "refused" : "applied"] += 1;
        }
        if (stop && stop.status === "gap" && !renumbered) {
          // The server never saw ids from `expected` on (this device's earlier queue was lost):
          // number what is left from there and send again, once.
          renumbered = true;
          pending = await numberPending(db, stop.expected);
          continue;
        }
        if (stop) throw new SyncError(stop.error ? stop.error.message : "retry later", { code: stop.status });
        pending = pending.slice(batch.length);
      }
      summary.waiting = (await outbox(db)).filter((item) => item.state === "pending").length;
      return summary;
    });
  }

  // --- forms that work offline ----------------------------------------------------------------
  // The same form posts the pages make, read as mutations, so a form sent without a connection
  // (by the page, or caught by the service worker) is queued instead of lost.
  function zonedIso(local, timeZone) {
    // "2026-11-25T18:00" read in `timeZone` -> an ISO instant. Guess UTC, then correct by the
    // zone's offset at that moment (twice, for a guess that lands across a DST change).
    if (!local) return null;
    const [date, time] = local.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const wanted = Date.UTC(y, mo - 1, d, h, mi);
    let guess = wanted;
    for (let i = 0; i < 2; i++) {
      const parts = Object.fromEntries(
        new Intl.DateTimeFormat("en-US", {
          timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
        }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]),
      );
      const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute);
      guess += wanted - shown;
    }
    return new Date(guess).toISOString();
  }

  const paise = (rupees) => Math.round(parseFloat(rupees || "0") * 100);
  const version = (form) => (form.get("version") ? +form.get("version") : null);

  const FORM_ROUTES = [
    [/^\/bookings\/(\d+)\/cancel\/$/, (m) => ({ name: "booking.cancel", args: { id: +m[1] }, label: "Cancel booking" })],
    [/^\/sessions\/(\d+)\/book\/$/, (m) => ({ name: "booking.create", args: { session: +m[1] }, label: "Book session" })],
    [/^\/sessions\/(\d+)\/waitlist\/$/, (m) => ({ name: "waitlist.join", args: { session: +m[1] }, label: "Join waitlist" })],
    [
      /^\/mentors\/(\d+)\/follow\/$/,
      (m, form) => {
        const follow = (form.get("action") || "follow") !== "unfollow";
        return { name: follow ? "mentor.follow" : "mentor.unfollow", args: { mentor: +m[1] }, label: follow ? "Follow mentor" : "Unfollow mentor" };
      },
    ],
    [
      /^\/mentors\/(\d+)\/request\/$/,
      (m, form, zone) => ({
        name: "request.create",
        label: `Request: ${form.get("topic") || "a session"}`,
        args: {
          mentor: +m[1],
          topic: form.get("topic") || "",
          description: form.get("description") || "",
          preferred_times: ["time_1", "time_2", "time_3"].map((k) => zonedIso(form.get(k), zone)).filter(Boolean),
          duration_minutes: +(form.get("duration_minutes") || 60),
          budget_paise: paise(form.get("budget")),
        },
      }),
    ],
    [
      /^\/dashboard\/mentor\/sessions\/(\d+)\/edit\/$/,
      (m, form, zone) =>
        form.get("publish")
          ? null // publishing is not among the offline actions: it needs the server's checks now
          : {
              name: "session.update",
              label: `Edit draft: ${form.get("title") || "session"}`,
              args: {
                id: +m[1],
                title: form.get("title") || "",
                description: form.get("description") || "",
                topics: (form.get("topics") || "").split(",").map((t) => t.trim()).filter(Boolean),
                domain: form.get("domain"),
                starts_at: zonedIso(form.get("starts_at"), zone),
                duration_minutes: +(form.get("duration_minutes") || 60),
                price_paise: paise(form.get("price")),
                capacity: +(form.get("capacity") || 1),
              },
            },
    ],
    [
      /^\/dashboard\/learner\/requests\/(\d+)\/answer\/$/,
      (m, form) => {
        const accept = form.get("answer") === "accept";
        return {
          name: "request.answer",
          label: accept ? "Accept the mentor's offer" : "Decline the mentor's offer",
          args: { request: +m[1], action: accept ? "accept_counter" : "decline_counter", version: version(form) },
        };
      },
    ],
    [
      /^\/dashboard\/learner\/requests\/(\d+)\/withdraw\/$/,
      (m) => ({ name: "request.answer", label: "Withdraw request", args: { request: +m[1], action: "withdraw" } }),
    ],
    [
      /^\/dashboard\/mentor\/requests\/(\d+)\/accept\/$/,
      (m, form) => ({
        name: "request.answer",
        label: "Accept request",
        args: { request: +m[1], action: "accept", starts_at: form.get("starts_at"), version: version(form) },
      }),
    ],
    [
      /^\/dashboard\/mentor\/requests\/(\d+)\/counter\/$/,
      (m, form, zone) => ({
        name: "request.answer",
        label: "Counter-offer",
        args: {
          request: +m[1],
          action: "counter",
          starts_at: zonedIso(form.get("starts_at"), zone),
          price_paise: paise(form.get("price")),
          version: version(form),
        },
      }),
    ],
    [
      /^\/dashboard\/mentor\/requests\/(\d+)\/decline\/$/,
      (m, form) => ({
        name: "request.answer",
        label: "Decline request",
        args: { request: +m[1], action: "decline", reason: form.get("reason") || "", version: version(form) },
      }),
    ],
    [
      /^\/dashboard\/notifications\/(\d+)\/read\/$/,
      (m) => ({ name: "notifications.read", args: { ids: [+m[1]] }, label: "Mark notification read" }),
    ],
    [/^\/dashboard\/notifications\/read-all\/$/, () => ({ name: "notifications.read_all", args: {}, label: "Mark all notifications read" })],
    [
      /^\/profile\/$/,
      (m, form) =>
        form.get("section") === "profile"
          ? {
              name: "profile.update",
              label: "Edit profile",
              args: { full_name: form.get("full_name") || "", timezone: form.get("timezone") || "", theme: form.get("theme") || "system" },
            }
          : null, // notification channels are saved online only
    ],
  ];

  // -> {name, args, label} for an offline-capable form post, or null.
  function formMutation(path, form, timeZone) {
    for (const [pattern, build] of FORM_ROUTES) {
      const match = pattern.exec(path);
      if (match) return build(match, form, timeZone || "UTC");
    }
    return null;
  }

  global.PeerLearnSync = { open, dbName, pull, push, enqueue, outbox, discard, formMutation, zonedIso, SyncError, COLLECTIONS };
})(self);
