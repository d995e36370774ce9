// Live previews of a draft: the audience of its areas (POST /api/v1/areas/audience) and the
// SMS each language's subscribers will receive (POST /api/v1/alerts/preview). Each keeps only
// its newest request: a change aborts the request before it. A discrete change to the areas
// (a county picked, a circle added, a polygon finished, an area removed) is counted at once;
// only typed edits wait for the typing to pause.

import { debounced, post, problems } from "./api.js";

const AUDIENCE_TYPED_WAIT_MS = 150;
const PREVIEW_WAIT_MS = 400;
const number = (n) => Number(n).toLocaleString("en-US");

// Counts the audience of `areas()` at once after each `refresh()`, or, after
// `refresh({ typed: true })` (an edit typed key by key), once the typing pauses for
// AUDIENCE_TYPED_WAIT_MS. `onAnswer(answer)` gets the API's answer (or {error} for a refused
// one) of the newest request only.
// `status()` is the draft's status: a Test or Exercise alert reaches only testers.
export function createAudienceCounter({ total, request, areas, status = () => "Actual", onAnswer = () => {} }) {
  const schedule = debounced(async (signal, count) => {
    const list = areas();
    if (!list.length) {
      total.textContent = "Add an area to count its audience.";
      request.textContent = "";
      onAnswer(null);
      return;
    }
    request.textContent = `Counting change ${count}…`;
    const answer = await post("/api/v1/areas/audience", { areas: list, status: status() }, { signal });
    if (signal.aborted) return;
    if (answer.status >= 500) return { retry: true };
    request.textContent = `Showing the count for change ${count}.`;
    if (!answer.ok) {
      total.textContent = "The areas cannot be counted yet: see the areas.";
      onAnswer({ error: answer.body?.error ?? { message: `Error ${answer.status}` } });
      return;
    }
    const body = answer.body;
    total.textContent = `${number(body.subscribers)} subscribers in all`;
    onAnswer(body);
  }, 0);
  return { refresh: ({ typed = false } = {}) => schedule(typed ? AUDIENCE_TYPED_WAIT_MS : 0) };
}

function cell(tag, text, className) {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

const languageNames = new Intl.DisplayNames(["en"], { type: "language" });
const languageName = (code) => {
  try {
    return languageNames.of(code) ?? code;
  } catch {
    return code;
  }
};

// One card per language: who reads it, its cost, and the SMS exactly as sent.
export function renderMessages(container, body) {
  const intro = cell("p", `${number(body.subscribers ?? 0)} subscribers in all. Each language's SMS, exactly as it will be sent:`, "hint");
  const cards = (body.messages ?? []).map((message) => {
    const card = document.createElement("article");
    card.className = "preview-message";
    card.dataset.language = message.language;
    const title = cell("h3", `${languageName(message.language)} (${message.language})`);
    const facts = document.createElement("p");
    facts.className = "preview-facts";
    const fact = (name, value, unit) => {
      const span = cell("span", value, name);
      facts.append(span, ` ${unit}`);
    };
    fact("subscribers", number(message.subscribers), message.subscribers === 1 ? "subscriber · " : "subscribers · ");
    fact("characters", number(message.characters), "characters · ");
    fact("segments", number(message.segments), message.segments === 1 ? "segment · " : "segments · ");
    facts.append(cell("span", message.encoding, "encoding"));
    const sms = cell("p", message.sms, "preview-sms");
    sms.lang = message.language;
    sms.dir = "auto";
    card.append(title, facts, sms);
    return card;
  });
  container.replaceChildren(intro, ...cards);
}

// Previews `draft()` (an AlertIn body, or null while it cannot be previewed) after each
// `refresh()`; `alertId()` names the stored alert it is of, if any (for its link).
export function createSmsPreview({ container, draft, alertId = () => null }) {
  const schedule = debounced(async (signal) => {
    const body = draft();
    if (!body) return;
    const id = alertId();
    const answer = await post(`/api/v1/alerts/preview${id ? `?alert=${id}` : ""}`, body, { signal });
    if (signal.aborted) return;
    if (answer.status >= 500) return { retry: true };
    if (!answer.ok) {
      const first = problems(answer.body?.error)[0];
      container.replaceChildren(
        cell("p", `No preview yet: ${first ? `${first.field}: ${first.problem}` : `error ${answer.status}`}`, "hint"),
      );
      return;
    }
    renderMessages(container, answer.body);
  }, PREVIEW_WAIT_MS);
  return { refresh: schedule };
}
