// The call's side panel (a bottom sheet on phones): tabs for chat, whiteboard and checklist.
// Chat and checklist live here; the whiteboard is board.js. Everything shown is what the server
// echoed, so every member sees the same history and ticks.

import { el } from "../dom.js";

const timeFormat = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });

export class Panels {
  // send(frame) -> bool; me: our user id; nameOf(userId) -> a member's name or "".
  constructor(root, { send, me, nameOf }) {
    this.root = root;
    this.send = send;
    this.me = me;
    this.nameOf = nameOf;
    this.tabs = [...root.querySelectorAll('[role="tab"]')];
    this.controls = [...document.querySelectorAll("[data-panel]")];
    this.log = root.querySelector("#chat-log");
    this.checklist = root.querySelector("#checklist");
    this.items = new Map(); // index -> item as the server last said
    this.unread = 0;
    this.active = "chat";

    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.open(tab.dataset.tab));
      tab.addEventListener("keydown", (event) => this.arrow(event));
    }
    for (const control of this.controls) control.addEventListener("click", () => this.toggle(control.dataset.panel));
    root.querySelector("[data-action=close-panel]").addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });

    const form = root.querySelector("#chat-form");
    const input = form.querySelector("input");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (this.send({ type: "chat", body })) input.value = "";
    });
    this.checklist.addEventListener("change", (event) => {
      const box = event.target.closest("input[data-index]");
      if (!box) return;
      const index = Number(box.dataset.index);
      if (!this.send({ type: "checklist", index, done: box.checked })) box.checked = !box.checked;
    });
  }

  get isOpen() {
    return !this.root.hidden;
  }

  toggle(tab) {
    if (this.isOpen && this.active === tab) this.close();
    else this.open(tab);
  }

  open(tab) {
    this.active = tab;
    this.root.hidden = false;
    for (const each of this.tabs) {
      const selected = each.dataset.tab === tab;
      each.setAttribute("aria-selected", String(selected));
      each.tabIndex = selected ? 0 : -1;
      document.getElementById(each.getAttribute("aria-controls")).hidden = !selected;
    }
    for (const control of this.controls) control.setAttribute("aria-expanded", String(control.dataset.panel === tab));
    if (tab === "chat") this.markRead();
    document.body.dataset.panel = tab;
  }

  close() {
    this.root.hidden = true;
    for (const control of this.controls) control.setAttribute("aria-expanded", "false");
    delete document.body.dataset.panel;
    document.querySelector(`[data-panel="${this.active}"]`)?.focus();
  }

  arrow(event) {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const at = this.tabs.indexOf(event.currentTarget);
    const next = this.tabs[(at + step + this.tabs.length) % this.tabs.length];
    this.open(next.dataset.tab);
    next.focus();
  }

  // --- chat ---------------------------------------------------------------------------------------
  setChat(messages) {
    this.log.replaceChildren(...messages.map((m) => this.message(m)));
    this.log.scrollTop = this.log.scrollHeight;
  }

  addChat(message) {
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(this.message(message));
    if (atBottom || message.user === this.me) this.log.scrollTop = this.log.scrollHeight;
    if (message.user !== this.me && !(this.isOpen && this.active === "chat")) {
      this.unread += 1;
      this.showUnread();
    }
  }

  message({ user, name, body, at }) {
    const when = at ? new Date(at) : null;
    return el(
      "li",
      { class: `chat-message${user === this.me ? " chat-mine" : ""}` },
      el(
        "p",
        { class: "chat-meta" },
        el("strong", {}, user === this.me ? "You" : name),
        when ? el("time", { datetime: at }, timeFormat.format(when)) : null,
      ),
      el("p", { class: "chat-body" }, body),
    );
  }

  markRead() {
    this.unread = 0;
    this.showUnread();
  }

  showUnread() {
    for (const badge of document.querySelectorAll("[data-unread]")) {
      badge.textContent = this.unread > 9 ? "9+" : String(this.unread);
      badge.hidden = this.unread === 0;
    }
    for (const label of document.querySelectorAll("[data-unread-label]")) {
      label.textContent = this.unread ? `, ${this.unread} unread` : "";
    }
  }

  // --- checklist ----------------------------------------------------------------------------------
  setChecklist(items) {
    this.items = new Map(items.map((item) => [item.index, item]));
    this.checklist.replaceChildren(...items.map((item) => this.row(item)));
    if (!items.length) this.checklist.append(el("li", { class: "muted" }, "This session has no topics to tick off."));
    this.countDone();
  }

  updateItem(item) {
    this.items.set(item.index, item);
    const row = this.checklist.querySelector(`[data-item="${item.index}"]`);
    if (row) row.replaceWith(this.row(item));
    else this.setChecklist([...this.items.values()].sort((a, b) => a.index - b.index));
    this.countDone();
  }

  // A tick the server refused: show what it last said.
  restoreChecklist() {
    this.setChecklist([...this.items.values()].sort((a, b) => a.index - b.index));
  }

  row(item) {
    const id = `check-${item.index}`;
    const by = item.done && item.by ? (item.by === this.me ? "you" : this.nameOf(item.by)) : "";
    return el(
      "li",
      { class: `check-item${item.done ? " is-done" : ""}`, "data-item": item.index },
      el("input", { type: "checkbox", id, "data-index": item.index, checked: item.done }),
      el("label", { for: id }, item.label),
      by ? el("span", { class: "check-by" }, `by ${by}`) : null,
    );
  }

  countDone() {
    const done = [...this.items.values()].filter((i) => i.done).length;
    const out = document.getElementById("checklist-count");
    if (out) out.textContent = this.items.size ? `${done} of ${this.items.size} covered` : "";
  }
}
