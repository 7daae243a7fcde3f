// Signalling over the room socket (backend/rooms/protocol.py). Channels delivers at most once, so
// both directions are numbered:
// - out: every `signal` this socket sends carries `seq`, one counter for the whole socket (the
//   server refuses a seq that does not grow). A new socket is a new Signalling, starting at 1.
// - in: the server numbers the relays from each peer to us n = 1, 2, 3…; we deliver them in
//   order, drop duplicates, and on a gap hold the later ones and ask for a resend from the
//   missing one. When the server no longer has it (`signal.lost`), the caller renegotiates.

const RESEND_AFTER_MS = 3000; // a resend request can be dropped too: ask again if the gap stays

export class Signalling {
  constructor(sendFrame) {
    this.sendFrame = sendFrame;
    this.seq = 0;
    this.inbound = new Map(); // peer -> {next, held: Map(n -> data), asked, timer, deliver}
  }

  // A peer's channel: `deliver(data)` gets its signals in order; returns the function that
  // sends ours to it.
  open(peer, deliver) {
    const box = this.inbound.get(peer);
    if (box) box.deliver = deliver;
    else this.inbound.set(peer, { next: 1, held: new Map(), asked: 0, timer: null, deliver });
    return (data) => {
      this.seq += 1;
      return this.sendFrame({ type: "signal", to: peer, seq: this.seq, data });
    };
  }

  has(peer) {
    return this.inbound.has(peer);
  }

  forget(peer) {
    const box = this.inbound.get(peer);
    if (box) clearTimeout(box.timer);
    this.inbound.delete(peer);
  }

  close() {
    for (const peer of [...this.inbound.keys()]) this.forget(peer);
  }

  receive({ from, n, data }) {
    const box = this.inbound.get(from);
    if (!box || !Number.isInteger(n)) return;
    if (n < box.next || box.held.has(n)) return; // a duplicate, e.g. a resend overlapping what came
    if (n > box.next) {
      box.held.set(n, data);
      this.askResend(from, box);
      return;
    }
    box.next += 1;
    box.deliver(data);
    while (box.held.has(box.next)) {
      const later = box.held.get(box.next);
      box.held.delete(box.next);
      box.next += 1;
      box.deliver(later);
    }
    if (box.held.size === 0) this.settle(box);
  }

  // The server could not fill the gap: step over it. What we held was sent after the lost
  // signal and may refer to it, so it goes too; the caller restarts the negotiation, which
  // supersedes all of it.
  lost(from) {
    const box = this.inbound.get(from);
    if (!box) return;
    if (box.held.size) box.next = Math.max(...box.held.keys()) + 1;
    box.held.clear();
    this.settle(box);
  }

  askResend(peer, box) {
    if (box.asked === box.next) return; // already asked for this gap; the timer asks again
    box.asked = box.next;
    this.sendFrame({ type: "resend", peer, from: box.next });
    clearTimeout(box.timer);
    box.timer = setTimeout(() => {
      box.asked = 0;
      if (box.held.size && this.inbound.get(peer) === box) this.askResend(peer, box);
    }, RESEND_AFTER_MS);
  }

  settle(box) {
    clearTimeout(box.timer);
    box.timer = null;
    box.asked = 0;
  }
}
