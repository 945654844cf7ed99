// The page: the runs, the tabs, and polling that follows runs while they train.
"use strict";

const POLL_MS = 2000;
const state = {runs: [], data: {}, visible: new Set(), focus: 0, view: "curves", loaded: {}, polling: false};

async function api(path) {
  const response = await fetch(path, {cache: "no-store"});
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function setStatus(text) { document.getElementById("status").textContent = text; }

// -- the runs ---------------------------------------------------------------------------------------

function buildRunList() {
  const list = document.getElementById("run-list"), focus = document.getElementById("focus");
  list.innerHTML = ""; focus.innerHTML = "";
  state.runs.forEach(run => {
    const label = element("label");
    const box = element("input", {type: "checkbox", "data-run": run.id});
    box.checked = state.visible.has(run.id);
    box.addEventListener("change", () => {
      if (box.checked) state.visible.add(run.id); else state.visible.delete(run.id);
      drawCurves(); drawFlow();
    });
    const swatch = element("span", {class: "swatch"});
    swatch.style.background = runColor(run.id);
    label.append(box, swatch, `${run.name}`);
    list.appendChild(label);
    focus.appendChild(element("option", {value: run.id}, `${run.name} (${run.kind || "?"})`));
  });
  focus.value = state.focus;
}

function emptyData() {
  return {steps: {step: [], epoch: [], loss: [], lr: []}, flow: [], history: []};
}

async function refreshRun(run) {
  const data = state.data[run.id] || (state.data[run.id] = emptyData());
  const last = data.steps.step.length ? data.steps.step[data.steps.step.length - 1] : 0;
  const lastFlow = data.flow.length ? data.flow[data.flow.length - 1].step : 0;
  const [steps, flow, history] = await Promise.all([
    api(`/api/runs/${run.id}/steps?since=${last}`), api(`/api/runs/${run.id}/flow?since=${lastFlow}`),
    api(`/api/runs/${run.id}/history`)]);
  const changed = steps.step.length > 0 || flow.records.length > 0 || history.records.length !== data.history.length;
  Object.keys(data.steps).forEach(key => { data.steps[key] = data.steps[key].concat(steps[key]); });
  data.flow = data.flow.concat(flow.records);
  data.history = history.records;
  return changed;
}

// -- learning curves ------------------------------------------------------------------------------

function epochAxis(records) {
  return records.map((record, i) => record.epoch !== undefined ? record.epoch : record.iteration !== undefined ? record.iteration : i + 1);
}

function historyLines(names, run, records) {
  const x = epochAxis(records), lines = [];
  names.forEach(([name, dash]) => {
    if (!records.some(record => typeof record[name] === "number")) return;
    lines.push({label: `${run.name} ${name}`, color: runColor(run.id), dash: dash ? [6, 4] : undefined,
                x: x, y: records.map(record => typeof record[name] === "number" ? record[name] : null)});
  });
  return lines;
}

function visibleRuns() { return state.runs.filter(run => state.visible.has(run.id)); }

function drawCurves() {
  const runs = visibleRuns();
  const lm = runs.some(run => run.kind === "lm");
  drawLines(document.getElementById("chart-step-loss"), runs.map(run => ({
    label: `${run.name} loss`, color: runColor(run.id), x: state.data[run.id].steps.step, y: state.data[run.id].steps.loss,
  })), {yLabel: "loss", empty: "no step log: recorded by chainrule train from this version on"});
  drawLines(document.getElementById("chart-epoch-loss"), runs.flatMap(run =>
    historyLines([["loss"], ["train_loss"], ["val_loss", true]], run, state.data[run.id].history)),
  {xLabel: lm ? "iteration" : "epoch", yLabel: "loss", empty: "no epoch finished yet"});
  drawLines(document.getElementById("chart-score"), runs.flatMap(run =>
    historyLines([["accuracy"], ["val_accuracy", true], ["rmse"], ["val_rmse", true]], run, state.data[run.id].history)),
  {xLabel: "epoch", yLabel: "accuracy or RMSE", empty: "no epoch finished yet (or a language model: see the loss)"});
  drawLines(document.getElementById("chart-lr"), runs.map(run => {
    const steps = state.data[run.id].steps;
    if (steps.step.length) return {label: `${run.name} lr`, color: runColor(run.id), x: steps.step, y: steps.lr};
    const records = state.data[run.id].history;
    return {label: `${run.name} lr`, color: runColor(run.id), x: epochAxis(records), y: records.map(r => r.lr)};
  }), {yLabel: "learning rate", xLabel: "step (epoch without a step log)"});
}

// -- gradient flow ---------------------------------------------------------------------------------

function drawFlow() {
  const run = state.runs[state.focus];
  if (!run) return;
  const records = state.data[run.id].flow;
  const names = [];
  records.forEach(record => record.layers.forEach(layer => { if (!names.includes(layer.name)) names.push(layer.name); }));
  const x = records.map(record => record.step);
  const line = (name, i, field) => ({
    label: name, color: PALETTE[i % PALETTE.length], dash: i >= PALETTE.length ? [4, 3] : undefined, x: x,
    y: records.map(record => { const layer = record.layers.find(l => l.name === name);
      const value = layer ? layer[field] : null; return field === "grad_norm" && !(value > 0) ? null : value; }),
  });
  drawLines(document.getElementById("chart-grad"), names.map((name, i) => line(name, i, "grad_norm")),
    {yLabel: "|grad|", log: true, empty: `no gradient flow recorded for ${run.name}`});
  const dead = names.filter(name => records.some(record => record.layers.some(l => l.name === name && l.dead !== null)));
  drawLines(document.getElementById("chart-dead"), dead.map((name, i) => line(name, names.indexOf(name), "dead")),
    {yLabel: "share of dead units", range: [0, 1], empty: "no ReLU in this model (or no flow recorded)"});
  const warnings = document.getElementById("flow-warnings");
  warnings.innerHTML = "";
  const last = records[records.length - 1];
  if (last && last.warnings.length) warnings.appendChild(element("p", {class: "warning"},
    `At step ${last.step}: ${last.warnings.join(", ")} (see chainrule.inspect.gradient_flow for what each means).`));
}

// -- the model views, loaded when their tab opens ---------------------------------------------------

const MODEL_VIEWS = {
  graph: () => api(`/api/runs/${state.focus}/graph`).then(renderGraph),
  backprop: () => api(`/api/runs/${state.focus}/backprop?example=${exampleIndex("bp-example")}`).then(renderBackprop),
  filters: () => Promise.all([api(`/api/runs/${state.focus}/filters`).then(renderFilters), loadFeatures()]),
  attention: () => loadAttention(),
  program: () => api(`/api/runs/${state.focus}/program`).then(renderProgram),
};

function exampleIndex(id) { return Math.max(0, parseInt(document.getElementById(id).value, 10) || 0); }

function loadFeatures() {
  return api(`/api/runs/${state.focus}/features?example=${exampleIndex("fm-example")}`).then(renderFeatures);
}

function loadAttention() {
  const prompt = document.getElementById("att-prompt").value;
  return api(`/api/runs/${state.focus}/attention?prompt=${encodeURIComponent(prompt)}`).then(renderAttention);
}

// The runs each model view is for; opening its tab moves the focus to one when the focus is not.
const SUITS = {
  backprop: run => run.kind === "mlp", filters: run => run.kind === "cnn",
  attention: run => run.kind === "lm" || run.kind === "transformer",
  program: run => Boolean(run.config && run.config.compile),
};

function suitableFocus(name) {
  const suits = SUITS[name], focus = state.runs[state.focus];
  if (!suits || (focus && suits(focus))) return;
  const found = state.runs.find(suits);
  if (found) { state.focus = found.id; document.getElementById("focus").value = found.id; }
}

async function openView(name) {
  state.view = name;
  suitableFocus(name);
  document.querySelectorAll("#tabs button").forEach(b => b.classList.toggle("active", b.dataset.view === name));
  document.querySelectorAll(".view").forEach(v => v.classList.toggle("active", v.id === `view-${name}`));
  if (name === "curves") { drawCurves(); resizeCharts(); }
  if (name === "flow") { drawFlow(); resizeCharts(); }
  if (name === "files") renderFiles(state.runs);
  const key = `${name}:${state.focus}`;
  if (MODEL_VIEWS[name] && !state.loaded[key]) {
    state.loaded[key] = true;
    setStatus(`computing the ${name} view...`);
    await busy(MODEL_VIEWS[name]());
  }
  document.body.dataset.view = name;
}

async function busy(promise) {
  document.body.dataset.busy = "1";
  try { await promise; setStatus(""); } catch (error) { setStatus(`failed: ${error.message}`); }
  delete document.body.dataset.busy;
}

// -- start and follow -------------------------------------------------------------------------------

async function poll() {
  if (state.polling) return;
  state.polling = true;
  try {
    state.runs = await api("/api/runs");
    let changed = false;
    for (const run of state.runs) changed = (await refreshRun(run)) || changed;
    if (changed && state.view === "curves") drawCurves();
    if (changed && state.view === "flow") drawFlow();
    if (state.view === "files") renderFiles(state.runs);
    const training = state.runs.filter(run => run.status !== "finished").length;
    setStatus(training ? `following ${training} run(s) in progress or stopped` : "");
  } catch (error) {
    setStatus(`the server did not answer (${error.message}); retrying`);
  } finally {
    state.polling = false;
  }
}

async function start() {
  const started = performance.now();
  state.runs = await api("/api/runs");
  state.runs.forEach(run => state.visible.add(run.id));
  buildRunList();
  await Promise.all(state.runs.map(refreshRun));
  drawCurves();
  window.chainruleView = {readyMs: performance.now() - started, navigationMs: performance.now()};
  document.body.dataset.ready = "1";
  document.querySelectorAll("#tabs button").forEach(b => b.addEventListener("click", () => openView(b.dataset.view)));
  document.getElementById("focus").addEventListener("change", event => {
    state.focus = +event.target.value; state.loaded = {}; openView(state.view);
  });
  document.getElementById("bp-load").addEventListener("click", () => busy(MODEL_VIEWS.backprop()));
  document.getElementById("bp-step").addEventListener("click", () => showFrame(backprop.frame + 1));
  document.getElementById("bp-back").addEventListener("click", () => showFrame(backprop.frame - 1));
  document.getElementById("bp-play").addEventListener("click", playBackprop);
  document.getElementById("bp-slider").addEventListener("input", event => showFrame(+event.target.value));
  document.getElementById("fm-load").addEventListener("click", () => busy(loadFeatures()));
  document.getElementById("fm-random").addEventListener("click", () => {
    const input = document.getElementById("fm-example");
    input.value = Math.floor(Math.random() * ((+input.max || 100) + 1));
    busy(loadFeatures());
  });
  document.getElementById("att-run").addEventListener("click", () => busy(loadAttention()));
  document.getElementById("att-prompt").addEventListener("keydown", event => { if (event.key === "Enter") busy(loadAttention()); });
  document.getElementById("att-layer").addEventListener("change", drawAttention);
  document.getElementById("att-head").addEventListener("change", drawAttention);
  setInterval(poll, POLL_MS);
}

start().catch(error => setStatus(`could not start: ${error.message}`));
