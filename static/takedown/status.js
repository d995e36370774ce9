// The status page: look a case up by its number and PIN, show what platforms
// have done, and withdraw it after asking once more.
//
// The PIN goes to Haven in a header of a same-site request (api.js) and is kept
// in this page's memory only while it is open; nothing is stored on the device.

import { getCase, withdrawCase } from "./api.js";
import { errorMessage, formatDate, formatNumber, ltr, t } from "./strings.js";

const $ = (id) => document.getElementById(id);
const form = $("lookup");
let opened = null; // {number, pin} of the case on show

/** Put `text` in a role=alert element so that it is announced, even when it repeats. */
function alertText(id, text) {
  $(id).textContent = "";
  if (text) requestAnimationFrame(() => ($(id).textContent = text));
}

function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

/** Counts over every hash of the case, by what platforms reported. */
function reported(status, ...outcomes) {
  return sum(status.hashes.flatMap((hash) => outcomes.map((outcome) => hash.feedback[outcome]?.count ?? 0)));
}

function show(status) {
  const active = status.status === "active";
  const fetched = status.hashes.length ? Math.min(...status.hashes.map((hash) => hash.platforms_fetched)) : 0;
  const removed = reported(status, "removed");
  const matched = reported(status, "matched");
  const kept = reported(status, "not_violating", "unable_to_action");
  $("case-title").textContent = t("case_title", { number: ltr(status.case_number) });
  $("case-state").textContent = active ? t("active") : t("withdrawn");
  $("case-state").classList.toggle("state-withdrawn", !active);
  $("fact-submitted").textContent = formatDate(status.submitted);
  $("fact-withdrawn-row").hidden = !status.withdrawn;
  $("fact-withdrawn").textContent = status.withdrawn ? formatDate(status.withdrawn) : "";
  $("fact-hashes").textContent = formatNumber(status.hashes.length);
  $("fact-platforms").textContent = t("of", { done: formatNumber(fetched), total: formatNumber(status.platforms) });
  $("fact-removed").textContent = formatNumber(removed);
  $("fact-matched").textContent = formatNumber(matched);
  $("fact-kept").textContent = formatNumber(kept);
  $("nothing-yet").hidden = !active || removed + matched + kept > 0;
  $("withdraw").hidden = !active;
  $("withdraw-confirm").hidden = true;
  $("withdraw-start").hidden = false;
  $("case").hidden = false;
}

async function lookUp(event) {
  event.preventDefault();
  const number = $("case-number").value.trim();
  const pin = $("pin").value.trim();
  if (!number || !pin) {
    alertText("lookup-error", t("missing"));
    $(number ? "pin" : "case-number").focus();
    return;
  }
  form.setAttribute("aria-busy", "true");
  try {
    const status = await getCase(number, pin);
    opened = { number, pin };
    alertText("lookup-error", "");
    $("case-announce").textContent = "";
    show(status);
    $("case-title").focus();
  } catch (error) {
    opened = null;
    $("case").hidden = true;
    alertText("lookup-error", errorMessage(error));
  } finally {
    form.removeAttribute("aria-busy");
  }
}

async function withdraw() {
  if (!opened) return;
  $("withdraw-yes").disabled = true;
  try {
    show(await withdrawCase(opened.number, opened.pin));
    alertText("withdraw-error", "");
    $("case-title").focus();
    $("case-announce").textContent = t("withdrawn_now");
  } catch (error) {
    alertText("withdraw-error", errorMessage(error));
  } finally {
    $("withdraw-yes").disabled = false;
  }
}

form.addEventListener("submit", lookUp);
$("withdraw-start").addEventListener("click", () => {
  $("withdraw-start").hidden = true;
  $("withdraw-confirm").hidden = false;
  $("withdraw-question").focus();
});
$("withdraw-no").addEventListener("click", () => {
  $("withdraw-confirm").hidden = true;
  $("withdraw-start").hidden = false;
  $("withdraw-start").focus();
});
$("withdraw-yes").addEventListener("click", withdraw);
form.hidden = false;
