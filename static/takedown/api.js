// The Take It Down JSON API, as the pages call it: hashes and codes only.
//
// Requests go to this site only, without cookies (the API needs none) and without
// a referrer. Failures become ApiError(code) with the API's error code, or
// "network" when Haven could not be reached; pages turn codes into kind text.

export class ApiError extends Error {
  constructor(code, status = 0, details = null) {
    super(code);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.details = details; // e.g. {retry_after, wait} of a wait after wrong PINs
  }
}

const BASE = "/api/v1/takedown/cases";

async function call(method, path, { body, pin } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // A header holds Latin-1 only; anything else cannot be part of a PIN anyway.
  if (pin !== undefined) headers["X-Case-Pin"] = pin.replace(/[^\x20-\x7e]/g, "?");
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    throw new ApiError("network");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (!response.ok) {
    throw new ApiError(data?.error?.code ?? "internal", response.status, data?.error?.details ?? null);
  }
  return data;
}

/** Send the hashes as a new case: resolves to {case_number, pin, hashes}. */
export function submitCase(hashes) {
  return call("POST", BASE, { body: { hashes } });
}

/** A case's status (takedown/schemas.py CaseStatusOut), its dates and counts written in
 * the language `lang` (its `text`). */
export function getCase(number, pin, lang) {
  return call("GET", `${BASE}/${encodeURIComponent(number)}?lang=${encodeURIComponent(lang)}`, { pin });
}

/** Withdraw a case: resolves to its new status, as getCase does. */
export function withdrawCase(number, pin, lang) {
  return call("POST", `${BASE}/${encodeURIComponent(number)}/withdraw?lang=${encodeURIComponent(lang)}`, { pin });
}
