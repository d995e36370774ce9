// The status page: look a case up by its number and PIN, show what platforms
// have done, and withdraw it after asking once more.
//
// The PIN goes to Haven in a header of a same-site request (api.js) and is kept
// in this page's memory only while it is open; nothing is stored on the device.

import { getCase, withdrawCase } from "./api.js";
import { errorMessage, lang, ltr, t } from "./strings.js";

const $ = (id) => document.getElementById(id);
const form = $("lookup");
const submit = form.querySelector("button[type=submit]");
let opened = null; // {number, pin} of the case on show

// A case number's check character, as takedown/codes.py makes it (ISO 7064 MOD 31-2 over
// this alphabet): a mistyped character is caught here, before anything is sent.
const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CASE_NUMBER_LENGTH = 9;

/** Whether `text` is a case number with the right check character (any case, any dashes). */
function isWellTyped(text) {
  const number = text.replace(/[\s\-_.]+/g, "").toUpperCase();
  if (number.length !== CASE_NUMBER_LENGTH) return false;
  let check = 0;
  for (const character of number) {
    const value = ALPHABET.indexOf(character);
    if (value < 0) return false;
    check = (2 * check + value) % ALPHABET.length;
  }
  return check === 1;
}

/** After wrong PINs: say how long to wait (the server's words), and let the form be used
 * again once the wait is over. The right PIN works then; nothing is ever locked. */
function waitToRetry(error) {
  const seconds = Number(error.details?.retry_after) || 1;
  alertText("lookup-error", t("wait_to_retry", { wait: error.details?.wait ?? "" }));
  submit.disabled = true;
  setTimeout(() => {
    submit.disabled = false;
    alertText("lookup-error", t("retry_now"));
  }, seconds * 1000);
}

/** Put `text` in a role=alert element so that it is announced, even when it repeats. */
function alertText(id, text) {
  $(id).textContent = "";
  if (text) requestAnimationFrame(() => ($(id).textContent = text));
}

/** Whether any platform has reported anything about any hash of the case. */
function anyReport(status) {
  return status.hashes.some((hash) => Object.values(hash.feedback).some((feedback) => feedback.count > 0));
}

function show(status) {
  const active = status.status === "active";
  // Dates and counts come written by the server in this page's language (`text`).
  const text = status.text;
  $("case-title").textContent = t("case_title", { number: ltr(status.case_number) });
  $("case-state").textContent = active ? t("active") : t("withdrawn");
  $("case-state").classList.toggle("state-withdrawn", !active);
  $("fact-submitted").textContent = text.submitted;
  $("fact-withdrawn-row").hidden = !status.withdrawn;
  $("fact-withdrawn").textContent = text.withdrawn ?? "";
  $("fact-hashes").textContent = text.hashes;
  $("fact-platforms").textContent = t("of", { done: text.platforms_fetched, total: text.platforms });
  $("fact-removed").textContent = text.removed;
  $("fact-matched").textContent = text.matched;
  $("fact-kept").textContent = text.kept;
  $("nothing-yet").hidden = !active || anyReport(status);
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
  if (!isWellTyped(number)) {
    alertText("lookup-error", t("case_number_mistyped"));
    $("case-number").focus();
    return;
  }
  form.setAttribute("aria-busy", "true");
  try {
    const status = await getCase(number, pin, lang);
    opened = { number, pin };
    alertText("lookup-error", "");
    $("case-announce").textContent = "";
    show(status);
    $("case-title").focus();
  } catch (error) {
    opened = null;
    $("case").hidden = true;
    if (error.code === "wait_to_retry") waitToRetry(error);
    else alertText("lookup-error", errorMessage(error));
  } finally {
    form.removeAttribute("aria-busy");
  }
}

async function withdraw() {
  if (!opened) return;
  $("withdraw-yes").disabled = true;
  try {
    show(await withdrawCase(opened.number, opened.pin, lang));
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
