// The console's calls to Haven's JSON API: signed in by the session cookie, carrying the
// page's CSRF token. Every answer is {ok, status, body}; a network failure or an aborted
// request throws as fetch does. A 401 (the session has ended) also puts a notice on the page.

import { noticeSessionEnd } from "./session.js";

const token = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export async function call(method, url, body, { signal, headers = {} } = {}) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    signal,
    headers: {
      "X-CSRF-Token": token(),
      Accept: "application/json",
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  noticeSessionEnd(response.status);
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

export const post = (url, body, options) => call("POST", url, body, options);
export const get = (url, options) => call("GET", url, undefined, options);

// Each problem of an API error as {field, problem}: pydantic's list in `details`, or the
// field path that starts a domain error's message ("areas.0.circle: ...", "expires: ...").
export function problems(error) {
  if (!error) return [];
  if (Array.isArray(error.details)) {
    return error.details.map((item) => ({ field: item.field, problem: item.problem }));
  }
  const match = /^([a-z_]+(?:\.[a-z0-9_]+)*): (.*)$/s.exec(error.message ?? "");
  if (match) return [{ field: match[1], problem: match[2], code: error.code }];
  return [{ field: "body", problem: error.message ?? "The request was refused.", code: error.code }];
}

// Calls `run(signal, number)` `wait` ms after the last `schedule()` (or `delay` ms after
// `schedule(delay)`; 0 asks at once), aborting the call before it: only the newest answer is
// ever shown. `number` counts the calls, for the page to say which answer it shows. A run
// that answers {retry: true} (the server failed, not refused) or cannot reach the server
// runs again a second later, up to three times.
const MAX_RETRIES = 3;
const RETRY_MS = 1000;
export function debounced(run, wait) {
  let timer = 0;
  let controller = null;
  let number = 0;
  let retries = 0;
  function retry() {
    if (retries >= MAX_RETRIES) return;
    retries += 1;
    later(RETRY_MS);
  }
  function later(delay) {
    clearTimeout(timer);
    timer = setTimeout(() => {
      controller?.abort();
      controller = new AbortController();
      number += 1;
      const signal = controller.signal;
      run(signal, number).then(
        (answer) => answer?.retry && !signal.aborted && retry(),
        (error) => error.name !== "AbortError" && retry(),
      );
    }, delay);
  }
  return function schedule(delay = wait) {
    retries = 0;
    later(delay);
  };
}
