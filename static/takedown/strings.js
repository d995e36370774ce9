// Translated text and locale formatting for Haven's pages.
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

// Latin digits everywhere, as the server's Babel formatting writes them and as the
// case numbers and PINs are written.
const NUMBERS = { numberingSystem: "latn" };

export function formatNumber(value) {
  return new Intl.NumberFormat(lang, NUMBERS).format(value);
}

const SIZE_UNITS = ["byte", "kilobyte", "megabyte", "gigabyte"];

/** A file size in the page's language, e.g. "2.1 MB" (1 MB = 1,000,000 bytes, as phones count). */
export function formatBytes(bytes) {
  let unit = 0;
  let value = bytes;
  while (value >= 1000 && unit < SIZE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const format = new Intl.NumberFormat(lang, {
    ...NUMBERS,
    style: "unit",
    unit: SIZE_UNITS[unit],
    unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  });
  return format.format(value);
}

/** A date in the page's language, e.g. "22 November 2026". */
export function formatDate(iso) {
  return new Intl.DateTimeFormat(lang, { ...NUMBERS, dateStyle: "long" }).format(new Date(iso));
}

/** The kind sentence for an API or network error (never the server's English message). */
export function errorMessage(error) {
  const code = error?.code;
  if (code && code in strings) return t(code);
  if (error?.status === 422 && "invalid" in strings) return t("invalid");
  return t("internal");
}
