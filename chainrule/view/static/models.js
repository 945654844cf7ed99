// The model views: graph, one step of backpropagation, filters and feature maps, attention, program.
"use strict";

function element(tag, attributes, text) {
  const node = document.createElement(tag);
  Object.entries(attributes || {}).forEach(([key, value]) => node.setAttribute(key, value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function showUnavailable(box, answer) {
  box.innerHTML = "";
  box.appendChild(element("p", {class: "unavailable"}, answer.unavailable));
}

// Graphviz's SVG, parsed as XML and adopted (never given to innerHTML as markup from the network).
function placeSvg(box, text) {
  box.innerHTML = "";
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const svg = parsed.documentElement;
  if (svg.nodeName !== "svg") { box.appendChild(element("p", {class: "unavailable"}, "unreadable SVG")); return null; }
  svg.querySelectorAll("script, foreignObject").forEach(node => node.remove());
  box.appendChild(document.adoptNode(svg));
  return box.querySelector("svg");
}

function renderGraph(answer) {
  const box = document.getElementById("graph");
  if (answer.unavailable) { showUnavailable(box, answer); return; }
  document.getElementById("graph-what").textContent =
    `The graph of ${answer.what}, parameters named as in the model; orange: gradient norms after backward.`;
  if (answer.svg) placeSvg(box, answer.svg);
  else { box.innerHTML = ""; box.appendChild(element("p", {class: "unavailable"}, answer.message));
         box.appendChild(element("pre", {}, answer.dot)); }
}

// -- one step of backpropagation ------------------------------------------------------------------

const backprop = {answer: null, frame: 0, timer: null};

function renderBackprop(answer) {
  const box = document.getElementById("bp-graph");
  const panel = document.getElementById("bp-panel");
  backprop.answer = null;
  if (answer.unavailable) { showUnavailable(box, answer); panel.innerHTML = ""; return; }
  if (answer.svg) placeSvg(box, answer.svg); else showUnavailable(box, {unavailable: answer.message});
  backprop.answer = answer;
  const slider = document.getElementById("bp-slider");
  slider.max = answer.frames.length - 1;
  showFrame(0);
}

function nodeGroups() {
  const groups = {};
  document.querySelectorAll("#bp-graph g.node").forEach(group => {
    const title = group.querySelector("title");
    if (title) groups[title.textContent] = group;
  });
  return groups;
}

function describeValue(title, value) {
  const block = element("div");
  block.appendChild(element("div", {}, `${title}: shape (${value.shape.join(", ")}), norm ${value.norm.toPrecision(4)}, ` +
    `from ${value.min.toPrecision(3)} to ${value.max.toPrecision(3)}${value.cut ? " (first values shown)" : ""}`));
  const limit = Math.max(Math.abs(value.min), Math.abs(value.max)) || 1;
  const strip = paintStrip(value.values, limit, value.values.length > 256 ? 6 : 12);
  strip.className = "strip";
  block.appendChild(strip);
  if (value.values.length <= 16) block.appendChild(element("code", {}, value.values.map(v => v.toPrecision(4)).join("  ")));
  return block;
}

function showFrame(index) {
  const answer = backprop.answer;
  if (!answer) return;
  const frames = answer.frames;
  index = Math.max(0, Math.min(frames.length - 1, index));
  backprop.frame = index;
  const groups = nodeGroups();
  Object.values(groups).forEach(group => group.classList.remove("active", "target", "forward-done", "backward-done"));
  for (let i = 0; i < index; i++) {
    const group = groups[frames[i].node];
    if (group) group.classList.add(frames[i].kind === "forward" ? "forward-done" : "backward-done");
  }
  const frame = frames[index];
  if (groups[frame.node]) groups[frame.node].classList.add("active");
  if (frame.to && groups[frame.to]) groups[frame.to].classList.add("target");
  document.getElementById("bp-slider").value = index;
  document.getElementById("bp-counter").textContent = `frame ${index + 1} of ${frames.length}`;
  const panel = document.getElementById("bp-panel");
  panel.innerHTML = "";
  panel.appendChild(element("p", {}, `Test example ${answer.index} (label ${answer.label}), loss ${answer.loss.toFixed(4)}.`));
  if (frame.kind === "forward") {
    panel.appendChild(element("h2", {}, `Forward: ${frame.label} computes its value`));
    panel.appendChild(describeValue("value", frame.value));
  } else {
    panel.appendChild(element("h2", {}, `Backward: the VJP of ${frame.label} for its input ${frame.argnum}`));
    panel.appendChild(describeValue("cotangent received (of its output)", frame.received));
    panel.appendChild(describeValue("cotangent passed back to its input", frame.returned));
    if (frame.summed_axes.length) panel.appendChild(element("p", {}, `summed over the broadcast axes ${frame.summed_axes.join(", ")}`));
  }
}

function playBackprop() {
  const button = document.getElementById("bp-play");
  if (backprop.timer) { clearInterval(backprop.timer); backprop.timer = null; button.textContent = "Play"; return; }
  button.textContent = "Pause";
  backprop.timer = setInterval(() => {
    if (!backprop.answer || backprop.frame >= backprop.answer.frames.length - 1) { playBackprop(); return; }
    showFrame(backprop.frame + 1);
  }, 700);
}

// -- convolutions ---------------------------------------------------------------------------------

function asGrid(values) {  // a 1-D signal as one row, a 2-D map as it is
  return Array.isArray(values[0]) ? values : [values];
}

function renderFilters(answer) {
  const box = document.getElementById("filters");
  box.innerHTML = "";
  if (answer.unavailable) { showUnavailable(box, answer); return; }
  box.appendChild(element("p", {class: "hint"}, `${answer.name}: ${answer.shape.join(" x ")} ` +
    `(out channels x in channels x kernel); blue negative, red positive, up to ${answer.limit.toPrecision(3)}.`));
  const grid = element("div", {class: "grid"});
  answer.values.forEach((filter, i) => {
    const figure = element("figure");
    const kernel = asGrid(filter[0]);
    const cell = Math.max(4, Math.floor(48 / Math.max(kernel.length, kernel[0].length)));
    filter.slice(0, 8).forEach(channel => figure.appendChild(paintGrid(asGrid(channel), answer.limit, cell)));
    figure.appendChild(element("figcaption", {}, `${i}`));
    grid.appendChild(figure);
  });
  box.appendChild(grid);
}

function renderFeatures(answer) {
  const box = document.getElementById("features");
  box.innerHTML = "";
  if (answer.unavailable) { showUnavailable(box, answer); return; }
  document.getElementById("fm-example").max = answer.count - 1;
  box.appendChild(element("p", {}, `Test example ${answer.index} of ${answer.count}: label ${answer.label}, ` +
    `predicted ${answer.prediction}. Its feature maps after ${answer.layer} (before the activation):`));
  const grid = element("div", {class: "grid"});
  const input = element("figure");
  const inputLimit = Math.max(...answer.input.flat(3).map(Math.abs)) || 1;
  const side = grid => Math.max(2, Math.floor(112 / Math.max(grid.length, grid[0].length)));
  answer.input.forEach(channel => input.appendChild(paintGrid(asGrid(channel), inputLimit, side(asGrid(channel)))));
  input.appendChild(element("figcaption", {}, "input"));
  grid.appendChild(input);
  answer.maps.forEach((map, i) => {
    const figure = element("figure");
    figure.appendChild(paintGrid(asGrid(map), answer.limit, side(asGrid(map))));
    figure.appendChild(element("figcaption", {}, `${i}`));
    grid.appendChild(figure);
  });
  box.appendChild(grid);
}

// -- attention ------------------------------------------------------------------------------------

const attentionState = {answer: null};

function renderAttention(answer) {
  const box = document.getElementById("attention");
  attentionState.answer = null;
  if (answer.unavailable) { showUnavailable(box, answer); document.getElementById("attention-heads").innerHTML = ""; return; }
  attentionState.answer = answer;
  const layerSelect = document.getElementById("att-layer"), headSelect = document.getElementById("att-head");
  const options = (select, count) => { select.innerHTML = ""; for (let i = 0; i < count; i++) select.appendChild(element("option", {value: i}, `${i}`)); };
  options(layerSelect, answer.layers.length);
  options(headSelect, answer.layers.length ? answer.layers[0].length : 0);
  drawAttention();
}

function drawAttention() {
  const answer = attentionState.answer;
  if (!answer || !answer.layers.length) return;
  const layer = +document.getElementById("att-layer").value, head = +document.getElementById("att-head").value;
  const weights = answer.layers[layer][head];
  const tokens = answer.tokens.map(token => token === "\n" ? "\u21b5" : token === " " ? "\u2423" : token);
  const cell = Math.max(8, Math.min(24, Math.floor(520 / tokens.length)));
  const margin = 40, size = cell * tokens.length;
  const canvas = element("canvas", {id: "attention-map"});
  canvas.width = size + margin; canvas.height = size + margin;
  const context = canvas.getContext("2d");
  context.font = `${Math.min(12, cell)}px monospace`;
  context.textAlign = "center"; context.textBaseline = "middle";
  tokens.forEach((token, i) => {
    context.fillStyle = "#222";
    context.fillText(token, margin + i * cell + cell / 2, margin / 2);
    context.fillText(token, margin / 2, margin + i * cell + cell / 2);
    weights[i].forEach((w, j) => {
      const [r, g, b] = sequential(w);
      context.fillStyle = `rgb(${r},${g},${b})`;
      context.fillRect(margin + j * cell, margin + i * cell, cell, cell);
    });
  });
  const box = document.getElementById("attention");
  box.innerHTML = "";
  box.appendChild(element("p", {class: "hint"}, `Layer ${layer}, head ${head}: row = the position attending, ` +
    `column = the position attended to (a causal model looks only left)${answer.cut ? "; the prompt was cut to the model's context" : ""}` +
    `${answer.dropped ? `; left out, not in the model's characters: ${JSON.stringify(answer.dropped)}` : ""}.`));
  box.appendChild(canvas);
  const heads = document.getElementById("attention-heads");
  heads.innerHTML = "";
  const grid = element("div", {class: "grid"});
  answer.layers.forEach((layerWeights, l) => layerWeights.forEach((headWeights, h) => {
    const figure = element("figure");
    figure.appendChild(paintGrid(headWeights, 1, Math.max(2, Math.floor(120 / tokens.length)), sequential));
    figure.appendChild(element("figcaption", {}, `layer ${l} head ${h}`));
    grid.appendChild(figure);
  }));
  heads.appendChild(grid);
}

function renderProgram(answer) {
  const box = document.getElementById("program");
  if (answer.unavailable) { box.textContent = answer.unavailable; document.getElementById("program-source").textContent = ""; return; }
  box.textContent = `# one training step on a batch of ${answer.batch}\n` + answer.listing;
  document.getElementById("program-source").textContent = answer.source || "(not available)";
}

function renderFiles(runs) {
  const box = document.getElementById("files");
  box.innerHTML = "";
  runs.forEach(run => {
    box.appendChild(element("h2", {}, `${run.name} (${run.path}): ${run.kind || "no settings"}, ${run.status}`));
    box.appendChild(element("p", {}, "present: " + (run.present.join(", ") || "nothing")));
    if (run.missing.length) {
      const table = element("table", {class: "missing"});
      table.appendChild(element("tr")).append(element("th", {}, "missing"), element("th", {}, "what it means"));
      run.missing.forEach(item => table.appendChild(element("tr")).append(element("td", {}, item.file), element("td", {}, item.meaning)));
      box.appendChild(table);
    }
    box.appendChild(element("pre", {}, JSON.stringify({config: run.config, record: run.record}, null, 1)));
  });
}
