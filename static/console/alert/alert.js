// The console's alert page: map, audience, per-language preview, the approver's decision,
// live delivery progress, update, cancel and the audit trail. Every action goes through the
// JSON API (./request.js); the page's data is in <script type="application/json" id="alert-data">.

import { call, problem } from "./request.js";
import { createAreaEditor } from "../draft/areas.js";
import { createMap } from "../draft/map.js";
import { drawAreas } from "./map.js";
import { showMessages, showProblem } from "./preview.js";
import { followProgress } from "./progress.js";

const FLASH = "haven-console-flash";
const page = JSON.parse(document.getElementById("alert-data").textContent);
const alert = page.alert;
const base = `/api/v1/alerts/${alert.id}`;
const number = new Intl.NumberFormat("en");
const when = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeStyle: "short" });

// Messages for the whole page: what an action did, or why it failed.

const notice = document.getElementById("page-message");

function tell(text, { stale = false, kind = "error" } = {}) {
  notice.replaceChildren(text);
  notice.className = `page-message page-message-${kind}`;
  if (stale) {
    const reload = document.createElement("a");
    reload.href = window.location.pathname;
    reload.textContent = "Reload the alert to see the newer revision";
    notice.append(" ", reload);
  }
  notice.hidden = false;
  notice.focus();
}

function failed(result) {
  tell(problem(result), { stale: result.status === 409 });
}

/** After an action that changed the alert: reload it, saying what happened. */
function done(text) {
  sessionStorage.setItem(FLASH, text);
  window.location.reload();
}

const flash = sessionStorage.getItem(FLASH);
if (flash) {
  sessionStorage.removeItem(FLASH);
  tell(flash, { kind: "done" });
}

/** Runs `action` with the form's submit button disabled, so a double click sends once. */
function busy(form, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  });
}

// The map and the audience.

drawAreas(document.getElementById("alert-map"), page.areas, {
  tilesUrl: page.tiles_url,
  tilesAttribution: page.tiles_attribution,
});

const audience = document.getElementById("audience");
if (["draft", "pending"].includes(alert.state)) {
  call(`${base}/audience`, { method: "POST" }).then((result) => {
    if (!result.ok) {
      audience.textContent = `The audience could not be counted: ${problem(result)}`;
      return;
    }
    audience.textContent = `Reaches ${number.format(result.body.subscribers)} subscribers now.`;
    const items = document.querySelectorAll(".alert-area-list li");
    result.body.areas.forEach((area, index) => {
      if (items[index]) items[index].append(` · ${number.format(area.subscribers)} subscribers`);
    });
  });
}

// The preview: each language the audience speaks, exactly as sent.

/** The stored content as an AlertIn body: nulls left out, as a draft stores them. */
function withoutNulls(value) {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

const preview = document.getElementById("preview");
let audienceLanguages = ["en", ...Object.keys(alert.content.texts).filter((code) => code !== "en")];

async function showPreview() {
  const sent = Object.keys(page.messages).length > 0;
  const result = await call(`/api/v1/alerts/preview?alert=${alert.id}`, {
    method: "POST",
    body: withoutNulls(alert.content),
  });
  if (result.ok) audienceLanguages = result.body.messages.map((m) => m.language);
  if (sent) {
    // What went out with the current version, for the languages its audience speaks.
    const counts = Object.fromEntries((result.ok ? result.body.messages : []).map((m) => [m.language, m.subscribers]));
    showMessages(preview, audienceLanguages.filter((code) => page.messages[code]).map((code) => ({
      language: code,
      subscribers: counts[code],
      ...page.messages[code],
    })));
  } else if (result.ok) {
    showMessages(preview, result.body.messages);
  } else {
    showProblem(preview, `The preview is unavailable: ${problem(result)}`);
  }
}
// The update preview asks for the languages this answer names, so it waits for it.
const previewed = showPreview();

// The approver's decision: approve the revision shown, return it with a reason, or reject.

const approveForm = document.getElementById("approve-form");
if (approveForm) {
  busy(approveForm, async () => {
    const result = await call(`${base}/approve`, { method: "POST", body: { revision: alert.revision } });
    if (result.ok) done(`Approved: alert ${alert.id} is being sent.`);
    else failed(result);
  });
  for (const [id, action, said] of [
    ["return-form", "return", "Returned to the drafter with your note."],
    ["reject-form", "reject", "Rejected: nothing was sent."],
  ]) {
    const form = document.getElementById(id);
    busy(form, async () => {
      const reason = form.elements.reason.value.trim();
      if (!reason) {
        tell("Give the reason the drafter will read.");
        form.elements.reason.focus();
        return;
      }
      const result = await call(`${base}/${action}`, {
        method: "POST",
        body: { revision: alert.revision, reason },
      });
      if (result.ok) done(said);
      else failed(result);
    });
  }
}

// Delivery progress.

const progress = document.getElementById("progress");
if (progress) {
  followProgress(progress, {
    alertId: alert.id,
    version: alert.version,
    expected: alert.audience ? alert.audience.subscribers : null,
  });
}

// Update: what changed, with the update message each language would receive.

/** A datetime-local value for an ISO time, in this browser's zone. */
function localInput(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const offset = date.getTimezoneOffset() * 60_000;
  return new Date(date.getTime() - offset).toISOString().slice(0, 16);
}

const updateForm = document.getElementById("update-form");
if (updateForm) {
  const fields = updateForm.elements;
  for (const input of updateForm.querySelectorAll("input[type=datetime-local]")) {
    input.value = localInput(input.dataset.current);
    input.defaultValue = input.value;
  }
  const seen = alert.content.last_seen ?? {};

  // The areas, changed with the drafting form's area editor and map, opened on demand.
  const areasPanel = document.getElementById("update-areas");
  const areasAudience = document.getElementById("update-audience");
  const storedAreas = JSON.stringify(withoutNulls(alert.content.areas));
  let editor = null;
  let counting = null;
  let counted = 0;

  const countAreas = async () => {
    const areas = editor.areas;
    if (!areas.length) {
      areasAudience.textContent = "Choose at least one area.";
      return;
    }
    const ticket = ++counted;
    const result = await call("/api/v1/areas/audience", {
      method: "POST",
      body: { areas, status: alert.status },
    });
    if (ticket !== counted) return; // a newer change has asked since
    if (!result.ok) {
      areasAudience.textContent = problem(result);
      return;
    }
    editor.showCounts(result.body.areas.map((area) => area.subscribers));
    areasAudience.textContent = `These areas reach ${number.format(result.body.subscribers)} subscribers.`;
  };

  areasPanel.addEventListener("toggle", () => {
    if (!areasPanel.open || editor) return;
    const mode = document.getElementById("update-map-mode");
    const map = createMap(
      document.getElementById("update-map"),
      { tiles: page.tiles_url, attribution: page.tiles_attribution },
      { onMode: (text) => { mode.textContent = text; } },
    );
    editor = createAreaEditor({
      root: areasPanel,
      map,
      onChange: () => {
        clearTimeout(counting);
        counting = setTimeout(countAreas, 250);
        updateForm.dispatchEvent(new Event("input"));
      },
    });
    editor.set(withoutNulls(alert.content.areas));
  });

  const changes = () => {
    const body = {};
    if (fields.expires.value !== fields.expires.defaultValue && fields.expires.value) {
      body.expires = new Date(fields.expires.value).toISOString();
    }
    const lastSeen = [fields.place, fields.seen_at, fields.direction];
    if (lastSeen.some((input) => input.value !== input.defaultValue)) {
      const place = fields.place.value.trim();
      const direction = fields.direction.value.trim();
      body.last_seen = {
        at: fields.seen_at.value ? new Date(fields.seen_at.value).toISOString() : seen.at ?? null,
        place: place || null,
        direction: direction || null,
      };
    }
    if (fields.contact_phone.value.trim() !== fields.contact_phone.defaultValue.trim()) {
      body.contact_phone = fields.contact_phone.value.trim();
    }
    // The vehicle is replaced whole, as the API takes it: every field, emptied ones as null.
    const vehicle = [...updateForm.querySelectorAll("input[data-vehicle]")];
    if (vehicle.some((input) => input.value.trim() !== input.defaultValue.trim())) {
      body.vehicle = Object.fromEntries(vehicle.map((input) => [input.dataset.vehicle, input.value.trim() || null]));
    }
    if (editor && JSON.stringify(editor.areas) !== storedAreas) body.areas = editor.areas;
    for (const area of updateForm.querySelectorAll("textarea[data-language]")) {
      if (area.value.trim() !== area.defaultValue.trim()) {
        body.texts = body.texts ?? {};
        body.texts[area.dataset.language] = area.value.trim() || null;
      }
    }
    return body;
  };

  const updatePreview = document.getElementById("update-preview");
  const updateError = document.getElementById("update-error");
  let pending = null;
  let asked = 0;

  const refresh = async () => {
    const body = changes();
    if (!Object.keys(body).length) {
      updatePreview.replaceChildren("Change a field to see the update message.");
      return;
    }
    await previewed;
    const query = audienceLanguages.map((code) => `language=${encodeURIComponent(code)}`).join("&");
    const ticket = ++asked;
    const result = await call(`/console/alerts/${alert.id}/update-preview?${query}`, { method: "POST", body });
    if (ticket !== asked) return; // a newer change has asked since
    if (result.ok) {
      updateError.hidden = true;
      showMessages(updatePreview, result.body.messages);
    } else {
      showProblem(updatePreview, problem(result));
    }
  };
  updateForm.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 300);
  });

  busy(updateForm, async () => {
    const body = changes();
    if (!Object.keys(body).length) {
      updateError.textContent = "Nothing has changed: change a field first.";
      updateError.hidden = false;
      return;
    }
    const result = await call(`${base}/update`, {
      method: "POST",
      body: { ...body, revision: alert.revision },
    });
    if (result.ok) done(`Update sent: version ${result.body.version} is going out.`);
    else if (result.status === 409) failed(result);
    else {
      updateError.textContent = problem(result);
      updateError.hidden = false;
      updateError.focus?.();
    }
  });
}

// Cancel, with a reason.

const cancelForm = document.getElementById("cancel-form");
if (cancelForm) {
  busy(cancelForm, async () => {
    const reason = cancelForm.elements.reason.value;
    if (!reason) {
      tell("Choose why the alert is cancelled.");
      cancelForm.elements.reason.focus();
      return;
    }
    const note = cancelForm.elements.note.value.trim();
    const result = await call(`${base}/cancel`, {
      method: "POST",
      body: { reason, revision: alert.revision, ...(note ? { note } : {}) },
    });
    if (result.ok) done("Cancelled.");
    else failed(result);
  });
}

// The audit trail, newest first.

const ACTIONS = {
  created: "Created",
  updated: "Updated",
  submitted: "Submitted for approval",
  approved: "Approved and sent",
  returned: "Returned to draft",
  returned_to_draft: "Back to draft (changed while waiting)",
  rejected: "Rejected",
  cancelled: "Cancelled",
  expired: "Expired",
  photos: "Photos fetched",
};

function detail(entry) {
  const changes = entry.changes ?? {};
  const parts = [];
  if (changes.revision) parts.push(`revision ${changes.revision}`);
  if (changes.version) parts.push(`version ${changes.version}`);
  if (changes.reason) parts.push(`reason: ${changes.reason}`);
  if (changes.note) parts.push(`note: ${changes.note}`);
  if (entry.action === "updated" && changes.changes) parts.push(`changed ${Object.keys(changes.changes).join(", ")}`);
  return parts.join(" · ");
}

call(`${base}/audit`).then((result) => {
  const list = document.getElementById("audit");
  if (!result.ok) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: problem(result) }));
    return;
  }
  list.replaceChildren(...result.body.entries.slice().reverse().map((entry) => {
    const item = document.createElement("li");
    const time = document.createElement("time");
    time.dateTime = entry.at;
    time.textContent = when.format(new Date(entry.at));
    const what = document.createElement("strong");
    what.textContent = ACTIONS[entry.action] ?? entry.action;
    item.append(time, " · ", what, entry.officer ? ` by ${entry.officer}` : "");
    const more = detail(entry);
    if (more) item.append(` · ${more}`);
    return item;
  }));
});
