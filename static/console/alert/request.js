// The console's calls to Haven's JSON API: same-origin, signed in by the session cookie,
// with the page's CSRF token on every request (templates/console/base.html puts it in
// <meta name="csrf-token">). A 401 (the session has ended) also puts a notice on the page.

import { noticeSessionEnd } from "../draft/session.js";

const token = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/**
 * Calls the API and never throws for an HTTP error: resolves to {ok, status, body}, where a
 * failure's body is Haven's {error: {code, message}} (or one made up for a network failure).
 */
export async function call(url, { method = "GET", body } = {}) {
  const headers = { "X-CSRF-Token": token(), Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return {
      ok: false,
      status: 0,
      body: { error: { code: "network", message: "Haven could not be reached. Check the connection and try again." } },
    };
  }
  noticeSessionEnd(response.status);
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = { error: { code: "bad_response", message: `Haven answered ${response.status} without JSON.` } };
  }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** The message of a failed call's error, for a person. */
export function problem(result) {
  return result.body?.error?.message ?? `Haven answered ${result.status}.`;
}
