// Live delivery progress: counts by channel and status, the send rate and the expected time
// to finish, polled every 2 s while the page is visible and stopped once sending is done.
// Only the summary is a live region, and it changes at milestones (sending started, each
// quarter, done), so that a screen reader is not read every tick.

import { call } from "./request.js";

const EVERY_MS = 2000;
const STATUSES = ["pending", "sending", "queued", "sent", "delivered", "undelivered", "failed", "skipped"];
const CHANNELS = { sms: "SMS", apprise: "Other channels" };
const number = new Intl.NumberFormat("en");

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return "moments";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function table(version) {
  const statuses = STATUSES.filter((status) =>
    Object.values(version.by_channel).some((counts) => counts[status]));
  const node = document.createElement("table");
  node.className = "progress-counts";
  const caption = node.createCaption();
  caption.textContent = `Version ${version.version}: ${number.format(version.total)} deliveries`;
  const head = node.createTHead().insertRow();
  const corner = document.createElement("th");
  corner.scope = "col";
  corner.textContent = "Channel";
  head.append(corner);
  for (const status of statuses) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = status;
    head.append(th);
  }
  const body = node.createTBody();
  for (const [channel, counts] of Object.entries(version.by_channel)) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = CHANNELS[channel] ?? channel;
    row.append(th);
    for (const status of statuses) {
      const cell = row.insertCell();
      cell.textContent = number.format(counts[status] ?? 0);
      cell.dataset.status = status;
      cell.dataset.channel = channel;
    }
  }
  return node;
}

/**
 * Follows the deliveries of `alertId` into `section`. `version` is the alert's current
 * version and `expected` how many subscribers it reaches (0: nothing will be sent).
 */
export function followProgress(section, { alertId, version, expected }) {
  const summary = section.querySelector("#progress-summary");
  const place = section.querySelector("#progress-table");
  const rate = section.querySelector("#progress-rate");
  const remaining = section.querySelector("#progress-remaining");
  const eta = section.querySelector("#progress-eta");
  let timer = null;
  let finished = false;
  let busy = false; // a request is on its way: a tab coming back must not start a second loop
  let said = "";

  const say = (text) => {
    if (text !== said) summary.textContent = said = text;
  };

  const show = (progress) => {
    const current = progress.versions.find((v) => v.version === version);
    place.replaceChildren(...progress.versions.slice().reverse().map(table));
    rate.textContent = progress.rate_per_minute === null ? "–" : number.format(progress.rate_per_minute);
    remaining.textContent = number.format(progress.remaining);
    eta.textContent = progress.remaining ? duration(progress.eta_seconds) : "done";
    section.dataset.remaining = String(progress.remaining);
    if (!current) {
      if (expected === 0) {
        finished = true;
        say("Nothing to send: no subscriber is in the alert's areas.");
      } else {
        say("Preparing the deliveries…");
      }
      return;
    }
    const done = current.total - current.remaining;
    if (current.remaining === 0) {
      finished = true;
      say(`Sending done: ${number.format(current.total)} deliveries of version ${version}.`);
      return;
    }
    const quarter = Math.floor((4 * done) / current.total) * 25;
    say(quarter ? `Sending: over ${quarter}% done.` : "Sending has started.");
  };

  const tick = async () => {
    timer = null;
    if (document.visibilityState !== "visible" || finished || busy) return;
    busy = true;
    const result = await call(`/api/v1/alerts/${alertId}/deliveries`);
    busy = false;
    if (result.ok) show(result.body);
    else say(`Delivery progress is unavailable: ${result.body?.error?.message ?? result.status}`);
    section.dataset.finished = finished ? "yes" : "no";
    if (!finished) schedule();
  };

  const schedule = () => {
    if (timer === null && !busy && !finished && document.visibilityState === "visible") {
      timer = setTimeout(tick, EVERY_MS);
    }
  };

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && timer === null && !busy && !finished) tick();
    else if (timer !== null && document.visibilityState !== "visible") {
      clearTimeout(timer);
      timer = null;
    }
  });
  tick();
}
