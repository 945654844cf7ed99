// Line charts on uPlot: several runs overlaid on one x axis, zoomable (drag), reset (double-click).
"use strict";

const PALETTE = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#3949ab"];

function runColor(id) { return PALETTE[id % PALETTE.length]; }

// lines: [{label, color, dash, x: [...], y: [...]}]; each line's x must be increasing.
// Lines are aligned on the union of their x values (uPlot.join), gaps spanned.
function drawLines(box, lines, options) {
  options = options || {};
  let holder = box.querySelector(".plot");
  if (!holder) {
    holder = document.createElement("div");
    holder.className = "plot";
    box.appendChild(holder);
  }
  const shown = lines.filter(line => line.x.length > 0);
  if (shown.length === 0) {
    holder.innerHTML = "";
    const note = document.createElement("p");
    note.className = "unavailable";
    note.textContent = options.empty || "nothing recorded yet";
    holder.appendChild(note);
    box.chart = null;
    box.signature = null;
    return null;
  }
  const data = shown.length === 1 ? [shown[0].x, shown[0].y]
    : uPlot.join(shown.map(line => [line.x, line.y]));
  const signature = shown.map(line => line.label).join("|") + (options.log ? "|log" : "");
  if (box.chart && box.signature === signature) {
    box.chart.setData(data, false);  // keep the user's zoom while a run is followed
    return box.chart;
  }
  if (box.chart) box.chart.destroy();
  holder.innerHTML = "";
  const series = [{label: options.xLabel || "step"}].concat(shown.map(line => ({
    label: line.label, stroke: line.color, width: 1.5, dash: line.dash, spanGaps: true,
    points: {show: line.x.length < 60},
  })));
  const opts = {
    width: Math.max(320, box.clientWidth - 12), height: options.height || 260, series: series,
    scales: {x: {time: false}, y: options.log ? {distr: 3} : options.range ? {range: options.range} : {}},
    axes: [{label: options.xLabel || "step"},
           {label: options.yLabel || "", size: 64, values: (u, ticks) => ticks.map(shortNumber)}],
    legend: {live: true},
    cursor: {drag: {x: true, y: false}},
  };
  box.chart = new uPlot(opts, data, holder);
  box.signature = signature;
  return box.chart;
}

function shortNumber(value) {
  if (value === null || value === undefined) return "";
  const size = Math.abs(value);
  return size !== 0 && (size < 1e-3 || size >= 1e5) ? value.toExponential(1) : String(+value.toPrecision(3));
}

function resizeCharts() {
  document.querySelectorAll(".chart").forEach(box => {
    if (box.chart && box.offsetParent !== null) {
      box.chart.setSize({width: Math.max(320, box.clientWidth - 12), height: box.chart.height});
    }
  });
}
window.addEventListener("resize", resizeCharts);

// A heat strip or grid of values on a canvas: blue negative, red positive, white zero.
function diverging(value, limit) {
  if (value === null || !isFinite(value)) return [200, 200, 200];
  const t = Math.max(-1, Math.min(1, value / (limit || 1)));
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))]
    : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

function sequential(value) {
  const t = Math.max(0, Math.min(1, value));
  return [Math.round(255 * (1 - t)), Math.round(255 * (1 - 0.6 * t)), Math.round(255 * (1 - 0.2 * t))];
}

function paintGrid(rows, limit, cell, colour) {
  const height = rows.length, width = height ? rows[0].length : 0;
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, width * cell);
  canvas.height = Math.max(1, height * cell);
  const context = canvas.getContext("2d");
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      const [r, g, b] = (colour || diverging)(rows[i][j], limit);
      context.fillStyle = `rgb(${r},${g},${b})`;
      context.fillRect(j * cell, i * cell, cell, cell);
    }
  }
  return canvas;
}

function paintStrip(values, limit, cell) {
  const perRow = 64;
  const rows = [];
  for (let start = 0; start < values.length; start += perRow) rows.push(values.slice(start, start + perRow));
  return paintGrid(rows, limit, cell || 6);
}
