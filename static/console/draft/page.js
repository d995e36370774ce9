// The drafting page (templates/console/draft.html): wires the form, the area editor, the map,
// the live audience and the SMS preview, checks the draft as it is typed, and saves or
// submits it through the JSON API.

import { debounced, post, problems } from "./api.js";
import { createAreaEditor } from "./areas.js";
import { createDraftForm, toLocal } from "./form.js";
import { createMap } from "./map.js";
import { createAudienceCounter, createSmsPreview } from "./preview.js";

const CHECK_WAIT_MS = 500;
const config = JSON.parse(document.getElementById("draft-config").textContent);
const $ = (id) => document.getElementById(id);
const formElement = $("draft-form");
const status = $("form-status");

let alert = config.alert; // the stored draft, once there is one
const form = createDraftForm({ form: formElement, summary: $("error-summary"), summaryList: $("error-list") });
const map = createMap($("map"), config.map, {
  jurisdiction: config.jurisdiction ?? [],
  onMode: (text) => ($("map-mode").textContent = text),
});

let areaProblems = new Map();
let jurisdiction = null;
const editor = createAreaEditor({
  root: $("area-editor"),
  map,
  jurisdiction: config.jurisdiction ?? [],
  onChange: () => {
    jurisdiction = null;
    showJurisdiction();
    audience.refresh();
    preview.refresh();
    check.refresh();
  },
});

function showJurisdiction() {
  const box = $("jurisdiction");
  map.showOutside(jurisdiction?.outside ?? null);
  if (!jurisdiction) {
    box.hidden = true;
    return;
  }
  $("clip").hidden = !jurisdiction.clipped;
  const names = (jurisdiction.counties ?? []).map((county) => `${county.name}, ${county.state}`);
  const which = Number(jurisdiction.area ?? 0) + 1;
  // Other counties' land is named; an area (or a part) that does not reach the jurisdiction
  // at all lies on nobody's land, and the API's message says how far away it is.
  $("jurisdiction-text").textContent =
    (names.length
      ? `Area ${which} reaches onto land outside your jurisdiction: ${names.join("; ")}.`
      : `Area ${which} does not reach your jurisdiction. ${jurisdiction.message ?? ""}`.trim()) +
    " The part outside is drawn in red on the map.";
  box.hidden = false;
}

$("clip").addEventListener("click", () => {
  if (!jurisdiction?.clipped) return;
  const index = Number(jurisdiction.area ?? 0);
  const old = editor.areas[index];
  const label = old?.description ?? `Area ${index + 1}`;
  editor.replace(index, { geojson: jurisdiction.clipped, description: `${label} (clipped to our jurisdiction)` });
  status.textContent = `Area ${index + 1} was clipped to your jurisdiction.`;
});

const audience = createAudienceCounter({
  total: $("audience"),
  request: $("audience-request"),
  areas: () => editor.areas,
  status: () => formElement.querySelector("input[name=status]:checked")?.value ?? "Actual",
  onAnswer: (answer) => {
    areaProblems = new Map();
    if (answer?.error) {
      for (const { field, problem } of problems(answer.error)) {
        const match = /^areas\.(\d+)/.exec(field);
        areaProblems.set(match ? Number(match[1]) : 0, problem);
      }
      jurisdiction = answer.error.code === "outside_jurisdiction" && answer.error.details?.clipped ? answer.error.details : null;
      editor.showErrors(areaProblems);
    } else {
      jurisdiction = answer?.outside_jurisdiction ?? null;
      editor.showErrors(new Map());
      editor.showCounts((answer?.areas ?? []).map((area) => area.subscribers));
    }
    showJurisdiction();
  },
});

const preview = createSmsPreview({
  container: $("preview"),
  draft: () => {
    const body = form.body(editor.areas);
    return body.areas.length && body.children.some((child) => child.name) ? body : null;
  },
  alertId: () => alert?.id ?? null,
});

// Checked as typed: the same rules and messages as creating the draft.
async function runCheck(signal, { all = false } = {}) {
  const answer = await post("/api/v1/alerts/check", form.body(editor.areas), { signal });
  if (signal?.aborted) return null;
  const list = answer.ok ? [] : problems(answer.body?.error);
  const shown = form.showProblems(list, {
    all,
    onAreaProblem: (index, problem) => areaProblems.set(index, problem),
  });
  if (list.some(({ field }) => field.startsWith("areas."))) editor.showErrors(areaProblems);
  if (!all && !$("error-summary").hidden) form.showSummary(shown.filter(({ target }) => target));
  return { ok: answer.ok, shown };
}
const check = { refresh: debounced((signal) => runCheck(signal), CHECK_WAIT_MS) };
formElement.addEventListener("input", () => {
  check.refresh();
  preview.refresh();
});
formElement.addEventListener("change", (event) => {
  preview.refresh();
  if (event.target.name === "status") audience.refresh();
});

function statusSummary() {
  const chosen = formElement.querySelector("input[name=status]:checked")?.value ?? "";
  const expires = $("f-expires").value ? new Date($("f-expires").value) : null;
  $("status-summary").textContent = expires ? `${chosen}, expires ${expires.toLocaleString("en-US", { dateStyle: "medium", timeStyle: "short" })}` : chosen;
}
formElement.addEventListener("change", statusSummary);

// Saves the draft: created the first time, updated (at its revision) afterwards.
async function save() {
  if (!alert) {
    const answer = await post("/api/v1/alerts", form.body(editor.areas));
    if (answer.ok) {
      alert = answer.body;
      history.replaceState(null, "", `/console/alerts/${alert.id}/edit`);
    }
    return answer;
  }
  const answer = await post(`/api/v1/alerts/${alert.id}/update`, form.body(editor.areas, { forUpdate: true }), {
    headers: { "If-Match": `"${alert.revision}"` },
  });
  if (answer.ok) alert = answer.body;
  return answer;
}

async function refused(answer, what) {
  if (answer.status === 422) {
    form.showSummary(form.showProblems(problems(answer.body?.error), { all: true, onAreaProblem: (i, p) => areaProblems.set(i, p) }));
    editor.showErrors(areaProblems);
  }
  status.textContent = `${what}: ${answer.body?.error?.message ?? `error ${answer.status}`}`;
}

let busy = false;
async function act(submit) {
  if (busy) return;
  busy = true;
  $("submit").disabled = $("save").disabled = true;
  try {
    status.textContent = submit ? "Submitting…" : "Saving…";
    if (!alert) {
      const checked = await runCheck(undefined, { all: true });
      if (checked && !checked.ok) {
        form.showSummary(checked.shown);
        status.textContent = "The draft has problems: see the list at the top.";
        return;
      }
    }
    const saved = await save();
    if (!saved.ok) return refused(saved, "Not saved");
    $("error-summary").hidden = true;
    if (!submit) {
      status.textContent = `Saved as draft ${alert.id} (revision ${alert.revision}).`;
      return;
    }
    const submitted = await post(`/api/v1/alerts/${alert.id}/submit`, { revision: alert.revision });
    if (!submitted.ok) return refused(submitted, "Saved, but not submitted");
    status.textContent = "Submitted for approval.";
    location.assign(`/console/alerts/${alert.id}`);
  } catch {
    status.textContent = "Haven could not be reached. Try again.";
  } finally {
    busy = false;
    $("submit").disabled = $("save").disabled = false;
  }
}
formElement.addEventListener("submit", (event) => {
  event.preventDefault();
  act(true);
});
$("save").addEventListener("click", () => act(false));

// Start: a stored draft's content, or an empty form expiring after the default hours.
if (alert) {
  form.fill(alert.content);
  // Stored areas list every form, the unused ones as null; the API takes only the one used.
  editor.set((alert.content.areas ?? []).map((area) => Object.fromEntries(Object.entries(area).filter(([, v]) => v !== null))));
} else {
  $("f-expires").value = toLocal(new Date(Date.now() + config.default_expiry_hours * 3600 * 1000).toISOString());
}
statusSummary();
formElement.dataset.ready = "true";
