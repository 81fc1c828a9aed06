// The dashboard's behaviour: the add-a-job form (built from the queue's schema, checked in the
// page before anything is sent), the live parts (the job page, the queue rows with their counts
// and throughput, a queue's counts and paused state), and local times. Texts go into the page
// through textContent only, or as whole parts the server rendered and escaped.

import { buildForm } from "./schema-form.js";
import { validate } from "./validate.js";

const csrf = document.body.dataset.csrf;
const POLL_JOB_MS = 1000;
const POLL_COUNTS_MS = 2000;

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

// A live part: an element with an id and data-live="URL" is replaced every few seconds by the
// element with the same id in the HTML that URL answers (rendered and escaped by the server).
// A job's part stops once the job has finished (data-finished="1").
function setupLive(id, every) {
  const tick = async () => {
    const part = document.getElementById(id);
    if (!part || part.dataset.finished === "1") return;
    try {
      const response = await fetch(part.dataset.live, { credentials: "same-origin", headers: { accept: "text/html" } });
      if (response.ok) {
        const doc = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = doc.getElementById(id);
        const current = document.getElementById(id);
        if (fresh && current && !current.contains(document.activeElement)) {
          const adopted = document.importNode(fresh, true);
          current.replaceWith(adopted);
          localTimes(adopted);
        }
      }
    } catch {
      // the dashboard restarted or the network blinked: try again on the next tick
    }
    setTimeout(tick, every);
  };
  if (document.getElementById(id)?.dataset.live) setTimeout(tick, every);
}

localTimes();
setupAddJob();
setupLive("job-detail", POLL_JOB_MS);
setupLive("queue-rows", POLL_COUNTS_MS);
setupLive("queue-state", POLL_COUNTS_MS);
