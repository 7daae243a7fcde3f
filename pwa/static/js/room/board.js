// The shared whiteboard. Points travel normalised to 0…1 of the board, and the board keeps one
// aspect ratio everywhere (CSS), so a stroke lands in the same place on a phone and a desktop.
// Widths are relative to a 600 px wide board for the same reason. Our own stroke is drawn as
// it is made and kept as "pending" until the server's echo (the stroke frame every member gets)
// replaces it; a refused one disappears again.

const MAX_POINTS = 1000; // the server's limit per stroke
const MIN_STEP = 0.002; // closer points add nothing visible
const REFERENCE_WIDTH = 600;

function simplify(points) {
  const kept = [points[0]];
  for (const point of points.slice(1, -1)) {
    const last = kept[kept.length - 1];
    if (Math.hypot(point[0] - last[0], point[1] - last[1]) >= MIN_STEP) kept.push(point);
  }
  kept.push(points[points.length - 1]);
  if (kept.length <= MAX_POINTS) return kept;
  // Still too long (a very long scribble): keep evenly spaced points, first and last included.
  const step = (kept.length - 1) / (MAX_POINTS - 1);
  return Array.from({ length: MAX_POINTS }, (_, i) => kept[Math.round(i * step)]);
}

const round = (value) => Math.round(Math.min(Math.max(value, 0), 1) * 10000) / 10000;

export class Board {
  constructor(canvas, { send, me, colour, width }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.send = send;
    this.me = me;
    this.colour = colour; // () -> "#rrggbb", the chosen pen
    this.width = width; // () -> number
    this.strokes = []; // as the server keeps them: {id, user, data}
    this.pending = []; // ours, sent and not yet echoed
    this.drawing = null;

    canvas.addEventListener("pointerdown", (event) => this.down(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    canvas.addEventListener("pointerup", (event) => this.up(event));
    canvas.addEventListener("pointercancel", () => this.cancel());
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  resize() {
    const box = this.canvas.getBoundingClientRect();
    if (!box.width || !box.height) return; // hidden: drawn again when shown
    const ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(box.width * ratio);
    this.canvas.height = Math.round(box.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.box = box;
    this.redraw();
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  }

  down(event) {
    if (!event.isPrimary || event.button > 0) return;
    event.preventDefault();
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = { color: this.colour(), width: this.width(), points: [this.point(event)] };
  }

  move(event) {
    if (!this.drawing || !event.isPrimary) return;
    // Coalesced events: a fast pen yields many points per frame, all of them part of the line.
    const events = event.getCoalescedEvents?.() ?? [];
    for (const each of events.length ? events : [event]) this.drawing.points.push(this.point(each));
    this.paint(this.drawing, this.drawing.points.length - (events.length || 1));
  }

  up(event) {
    if (!this.drawing || !event.isPrimary) return;
    const stroke = this.drawing;
    this.drawing = null;
    if (stroke.points.length < 2) stroke.points.push(stroke.points[0]); // a dot
    stroke.points = simplify(stroke.points);
    if (stroke.points.length < 2) return;
    if (!this.send({ type: "stroke", data: stroke })) {
      this.redraw();
      return;
    }
    this.pending.push(stroke);
    this.redraw();
  }

  cancel() {
    this.drawing = null;
    this.redraw();
  }

  // A stroke frame from the server, ours included.
  add(stroke) {
    if (stroke.user === this.me && this.pending.length) this.pending.shift();
    this.strokes.push(stroke);
    this.redraw();
  }

  // The server refused our oldest pending stroke.
  refused() {
    this.pending.shift();
    this.redraw();
  }

  replace(strokes) {
    this.strokes = [...strokes];
    this.pending = [];
    this.redraw();
  }

  clear() {
    this.strokes = [];
    this.pending = [];
    this.redraw();
  }

  redraw() {
    if (!this.box) return;
    this.ctx.clearRect(0, 0, this.box.width, this.box.height);
    for (const stroke of this.strokes) this.paint(stroke.data);
    for (const stroke of this.pending) this.paint(stroke);
    if (this.drawing) this.paint(this.drawing);
  }

  // Draw a stroke, or only its tail from point `from` while it is being drawn.
  paint({ color, width, points }, from = 0) {
    if (!this.box || points.length < 1) return;
    const ctx = this.ctx;
    const { width: w, height: h } = this.box;
    ctx.strokeStyle = color;
    ctx.lineWidth = Math.max(1, (width * w) / REFERENCE_WIDTH);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    const start = Math.max(from - 1, 0);
    ctx.moveTo(points[start][0] * w, points[start][1] * h);
    for (const [x, y] of points.slice(start + 1)) ctx.lineTo(x * w, y * h);
    if (points.length === 1) ctx.lineTo(points[0][0] * w + 0.1, points[0][1] * h);
    ctx.stroke();
  }
}
