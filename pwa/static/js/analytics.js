// Draws the dashboard charts (analytics, earnings) with the vendored Chart.js (window.Chart).
// The server sends each chart as {type, labels, datasets: [{label, data, color}], ...options} in
// <script id="chart-data" type="application/json">; colours are design-token names read from
// CSS custom properties, so light and dark both look right and a theme switch redraws.
// Each canvas has a text summary and a data table beside it: the chart is the extra, not the only copy.

const root = document.documentElement;
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");
const source = document.getElementById("chart-data");
const specs = source ? JSON.parse(source.textContent) : {};
const drawn = [];

const TOKENS = { brand: "--brand", accent: "--accent", muted: "--muted", text: "--text", border: "--border" };
const STAR = "#E5A000"; // the rating bars' gold elsewhere in the design system

function palette() {
  const style = getComputedStyle(root);
  const read = (name) => style.getPropertyValue(name).trim();
  const colours = Object.fromEntries(Object.entries(TOKENS).map(([key, token]) => [key, read(token)]));
  return { ...colours, star: STAR, surface: read("--surface"), font: read("--font") || "system-ui" };
}

// "#RRGGBB" or "rgb(a)(...)" at a given opacity, for fills under lines and soft bars.
function fade(colour, alpha) {
  if (colour.startsWith("#") && colour.length === 7) {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  return colour;
}

const rupees = new Intl.NumberFormat("en-IN", { style: "currency", currency: "INR", maximumFractionDigits: 0 });

function config(spec, colours) {
  const horizontal = Boolean(spec.horizontal);
  const valueAxis = horizontal ? "x" : "y";
  const format = (value) => (spec.money ? rupees.format(value) : value);
  const datasets = spec.datasets.map((set, index) => {
    const colour = colours[set.color] || colours.brand;
    const line = (set.type || spec.type) === "line";
    return {
      label: set.label,
      data: set.data,
      type: set.type || spec.type,
      order: line ? 0 : 1, // lines over bars
      backgroundColor: line ? fade(colour, 0.18) : colour,
      borderColor: colour,
      borderWidth: line ? 2.5 : 0,
      borderRadius: line ? 0 : 6,
      maxBarThickness: 36,
      fill: Boolean(set.fill),
      tension: 0.3,
      cubicInterpolationMode: "monotone", // smooth without overshooting the data (no rating above 5)
      spanGaps: true,
      pointRadius: line ? 3 : 0,
      pointHoverRadius: 5,
      stack: spec.stacked ? "total" : `set-${index}`,
    };
  });
  const scale = (isValue) => ({
    stacked: Boolean(spec.stacked),
    beginAtZero: true,
    border: { display: false },
    grid: { display: isValue, color: colours.border, drawTicks: false },
    ticks: {
      color: colours.muted,
      padding: 8,
      autoSkip: true,
      maxRotation: 0,
      ...(isValue ? { precision: spec.money ? undefined : 0, callback: (value) => format(value) } : {}),
    },
    ...(isValue && spec.y ? spec.y : {}),
  });
  return {
    type: spec.type,
    data: { labels: spec.labels, datasets },
    options: {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion.matches ? false : { duration: 400 },
      interaction: { mode: "index", intersect: false },
      layout: { padding: { top: 8, right: 8 } }, // points on the top edge are not clipped
      font: { family: colours.font },
      scales: { x: scale(valueAxis === "x"), y: scale(valueAxis === "y") },
      plugins: {
        legend: {
          display: spec.datasets.length > 1,
          position: "bottom",
          labels: { color: colours.text, boxWidth: 12, boxHeight: 12, useBorderRadius: true, borderRadius: 3 },
        },
        tooltip: {
          backgroundColor: colours.text,
          titleColor: colours.surface,
          bodyColor: colours.surface,
          padding: 10,
          cornerRadius: 10,
          callbacks: { label: (item) => ` ${item.dataset.label}: ${item.raw === null ? "—" : format(item.raw)}` },
        },
      },
    },
  };
}

function draw() {
  const Chart = window.Chart;
  if (!Chart) return; // the library did not load (offline, blocked): the tables still hold the numbers
  const colours = palette();
  Chart.defaults.font.family = colours.font;
  Chart.defaults.color = colours.muted;
  while (drawn.length) drawn.pop().destroy();
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const spec = specs[canvas.dataset.chart];
    if (spec) drawn.push(new Chart(canvas, config(spec, colours)));
  }
}

if (window.Chart) draw();
else addEventListener("load", draw, { once: true });
new MutationObserver(draw).observe(root, { attributes: true, attributeFilter: ["data-theme"] });
reducedMotion.addEventListener("change", draw);
