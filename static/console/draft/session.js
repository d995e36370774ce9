// What the console's scripts do when Haven answers 401: the officer's session has ended (signed
// out elsewhere, or idle too long), so nothing they do on this page can work until they sign in
// again. One notice at the top of the page says so, with the way back to this page.

const NOTICE_ID = "session-ended";

/** Shows, once, "Your session has ended: sign in again", linking to the sign-in page. */
export function showSessionEnded() {
  if (document.getElementById(NOTICE_ID)) return;
  const main = document.getElementById("main") ?? document.body;
  const notice = document.createElement("p");
  notice.id = NOTICE_ID;
  notice.className = "console-errors";
  notice.setAttribute("role", "alert");
  const next = location.pathname + location.search;
  const link = document.createElement("a");
  link.href = `/console/sign-in?next=${encodeURIComponent(next)}`;
  link.textContent = "sign in again";
  notice.append("Your session has ended: ", link);
  main.prepend(notice);
}

/** Calls `showSessionEnded` when `status` is 401; returns `status`. */
export function noticeSessionEnd(status) {
  if (status === 401) showSessionEnded();
  return status;
}
