// Translated text, and counts and sizes as the server writes numbers, for Haven's pages.
//
// The server renders every sentence a script may show, already translated, into
// <script type="application/json" id="i18n-strings"> (data, not script: the CSP
// allows it). Scripts pick a sentence by key and fill in its %(name)s
// placeholders; they never build a sentence out of translated pieces.

const block = document.getElementById("i18n-strings");
const strings = block ? JSON.parse(block.textContent) : {};

/** The page's language, as <html lang> names it. */
export const lang = document.documentElement.lang || "en";

/** The sentence `key`, with each %(name)s replaced by values[name]. */
export function t(key, values = {}) {
  const template = strings[key] ?? key;
  return template.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
}

/** Bidirectional isolation for a code or number inside a sentence (left to right). */
export const ltr = (text) => `\u2066${text}\u2069`;

// Numbers and dates are written by the server with Babel, in the page's language, never
// with the browser's own locale data (Chromium has none for km, is, ckb or si, and writes
// "2026 M12 6"): the status API answers with its dates and counts as text (`text`), and
// counts and sizes the page works out are written with the server's signs and patterns below.

const SIZE_UNITS = ["byte", "kilobyte", "megabyte", "gigabyte"];

/** A whole number (0 or more) as the server's Babel writes it in the page's language, e.g.
 * "1,234" or "12,34,567": Latin digits, grouped with the page's group sign and sizes. */
export function formatCount(value) {
  const [last, other] = (strings.number_grouping ?? "3 3").split(" ").map(Number);
  let digits = String(Math.trunc(value));
  const groups = [];
  if (digits.length > last) {
    groups.unshift(digits.slice(-last));
    digits = digits.slice(0, -last);
    while (digits.length > other) {
      groups.unshift(digits.slice(-other));
      digits = digits.slice(0, -other);
    }
  }
  groups.unshift(digits);
  return groups.join(strings.number_group ?? ",");
}

/** A file size in the page's language, e.g. "2.1 MB" (1 MB = 1,000,000 bytes, as phones
 * count): one decimal at most, with the page's decimal sign, in Babel's unit pattern. */
export function formatBytes(bytes) {
  let unit = 0;
  let value = bytes;
  while (value >= 1000 && unit < SIZE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  // Below 1,000 of its unit, so it needs no grouping; Latin digits, as the server writes them.
  const rounded = unit === 0 ? Math.round(value) : Math.round(value * 10) / 10;
  const number = String(rounded).replace(".", strings.number_decimal ?? ".");
  return t(`size_${SIZE_UNITS[unit]}`, { size: number });
}

/** The kind sentence for an API or network error (never the server's English message). */
export function errorMessage(error) {
  const code = error?.code;
  // Details fill the sentence's placeholders, e.g. the %(wait)s after wrong PINs.
  if (code && code in strings) return t(code, error?.details ?? {});
  if (error?.status === 422 && "invalid" in strings) return t("invalid");
  return t("internal");
}
