// The dashboard's behaviour: the add-a-job form (built from the queue's schema, checked in the
// page before anything is sent), the live job page, live counts with a throughput sparkline,
// and local times. Texts go into the page through textContent only.

import { drawSparkline } from "./chart.js";
import { buildForm } from "./schema-form.js";
import { validate } from "./validate.js";

const csrf = document.body.dataset.csrf;
const POLL_JOB_MS = 1000;
const POLL_COUNTS_MS = 2000;
const HISTORY = 150; // samples kept for the sparkline: 5 minutes at one per 2 s

function say(holder, text) {
  holder.textContent = text;
  holder.hidden = !text;
}

function readOptions(form, holder) {
  const options = {};
  const jobId = form.elements.namedItem("job_id");
  const delay = form.elements.namedItem("delay");
  const priority = form.elements.namedItem("priority");
  if (jobId && jobId.value.trim()) options.job_id = jobId.value.trim();
  if (delay && delay.value.trim()) {
    const seconds = Number(delay.value);
    if (!Number.isFinite(seconds) || seconds < 0) return say(holder, "delay must be a number of seconds ≥ 0");
    options.delay = seconds;
  }
  if (priority && priority.value.trim()) {
    const value = Number(priority.value);
    if (!Number.isSafeInteger(value)) return say(holder, "priority must be an integer");
    options.priority = value;
  }
  return options;
}

async function send(form, data, options) {
  const response = await fetch(form.dataset.action, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json", "x-csrf-token": csrf },
    body: JSON.stringify({ data, options }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.status === 201) return { added: body.id, url: body.url };
  return { errors: body.errors || [{ loc: [], msg: body.error || `the dashboard answered ${response.status}` }] };
}

function setupAddJob() {
  const form = document.getElementById("add-job");
  if (!form) return;
  const holder = form.querySelector("[data-schema-form]");
  const schema = JSON.parse(document.getElementById(holder.dataset.schema).textContent);
  const fields = buildForm(holder, schema);
  const formError = form.querySelector('[data-error-for="[]"]');
  const optionsError = form.querySelector("[data-error-for='[\"options\"]']");
  const button = form.querySelector("button[type=submit]");
  const addedNote = form.querySelector(".added");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fields.clearErrors();
    say(formError, "");
    say(optionsError, "");
    say(addedNote, "");
    const { value, problems } = fields.read();
    const options = readOptions(form, optionsError);
    const seen = new Set(problems.map((p) => JSON.stringify(p.path)));
    const errors = [...problems, ...validate(schema, value).filter((e) => !seen.has(JSON.stringify(e.path)))];
    errors.forEach((e) => fields.showError(e.path, e.message));
    if (errors.length || options === undefined) {
      say(formError, "Nothing was sent: fix the fields marked below.");
      const first = form.querySelector("[aria-invalid=true]");
      if (first) first.focus();
      return;
    }
    button.disabled = true;
    try {
      const outcome = await send(form, value, options);
      if (outcome.url) {
        window.location.assign(outcome.url);
        return;
      }
      if (outcome.added !== undefined) {
        say(addedNote, `Added job ${outcome.added}. This backend keeps no job status to show.`);
        return;
      }
      for (const e of outcome.errors) {
        if (e.loc[0] === "options") say(optionsError, e.msg);
        else if (e.loc.length === 0) say(formError, e.msg);
        else fields.showError(e.loc, e.msg);
      }
      if (!formError.textContent) say(formError, "The server refused the job: see the fields marked below.");
    } catch (err) {
      say(formError, `Could not reach the dashboard: ${err.message}`);
    } finally {
      button.disabled = false;
    }
  });
}

function localTimes(root = document) {
  for (const t of root.querySelectorAll("time[data-epoch]")) {
    const epoch = Number(t.dataset.epoch);
    if (!t.dataset.epoch || !Number.isFinite(epoch)) continue;
    const date = new Date(epoch * 1000);
    t.title = date.toISOString();
    t.textContent = date.toLocaleString();
  }
}

function setupJobLive() {
  const tick = async () => {
    const section = document.getElementById("job-detail");
    if (!section || section.dataset.finished === "1") return;
    try {
      const response = await fetch(section.dataset.live, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById("job-detail");
        if (fresh) {
          const adopted = document.importNode(fresh, true);
          section.replaceWith(adopted);
          localTimes(adopted);
        }
      }
    } catch {
      // the dashboard restarted or the network blinked: try again on the next tick
    }
    setTimeout(tick, POLL_JOB_MS);
  };
  setTimeout(tick, POLL_JOB_MS);
}

function setupLiveCounts() {
  const table = document.querySelector("[data-live-counts]");
  if (!table) return;
  const last = new Map();
  const rates = new Map();
  const tick = async () => {
    try {
      const response = await fetch(table.dataset.liveCounts, { credentials: "same-origin", headers: { accept: "application/json" } });
      const body = await response.json();
      const now = Date.now() / 1000;
      for (const row of table.querySelectorAll("tr[data-queue]")) {
        const counts = body.counts[row.dataset.queue];
        if (!counts) continue;
        for (const cell of row.querySelectorAll("[data-count]")) cell.textContent = String(counts[cell.dataset.count] ?? "");
        const done = (counts.completed || 0) + (counts.failed || 0);
        const before = last.get(row.dataset.queue);
        last.set(row.dataset.queue, { t: now, done });
        if (!before || now <= before.t) continue;
        const series = rates.get(row.dataset.queue) || [];
        series.push(Math.max(0, (done - before.done) / (now - before.t)));
        rates.set(row.dataset.queue, series.slice(-HISTORY));
        const svg = row.querySelector("svg[data-chart]");
        if (svg) drawSparkline(svg, rates.get(row.dataset.queue));
      }
    } catch {
      // keep the last numbers shown; try again on the next tick
    }
    setTimeout(tick, POLL_COUNTS_MS);
  };
  tick();
}

localTimes();
setupAddJob();
setupJobLive();
setupLiveCounts();
