// The Take It Down page: choose files, fingerprint them on this device, show
// exactly what will be sent, send it, then show the case number and PIN.
//
// Hashes only, never bytes: a chosen file goes to hashFile() (a worker on this
// device) and to createImageBitmap() for its small preview, and nowhere else.
// The only request this page makes with data in it is the POST of the hashes
// (api.js). Keep it that way.

import { hashFile, mediaKind, MIN_MATCHABLE_QUALITY } from "./hashing/hasher.js";
import { submitCase } from "./api.js";
import { errorMessage, formatBytes, formatCount, t } from "./strings.js";

const $ = (id) => document.getElementById(id);
const app = $("app");
const maxHashes = Number(app.dataset.maxHashes) || 100;
const minQuality = Math.max(MIN_MATCHABLE_QUALITY, Number(app.dataset.minQuality) || 0);
// The server's limits on video fingerprints (HAVEN_VPDQ_MAX_FRAMES, HAVEN_CASE_MAX_VPDQ_BYTES).
const maxVpdqFrames = Number(app.dataset.maxVpdqFrames) || 3600;
const maxVpdqBytes = Number(app.dataset.maxVpdqBytes) || 1024 * 1024;
const THUMB = 112; // canvas pixels; shown at 56 CSS pixels

const items = []; // {id, file, media, state, result, controller, row}
let nextId = 0;
let queue = Promise.resolve(); // one file is hashed at a time: phones have little memory
let sending = false;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Files

function isSameFile(a, b) {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function addFiles(files) {
  const firstFiles = items.length === 0;
  let duplicate = false;
  for (const file of files) {
    if (items.some((item) => isSameFile(item.file, file))) {
      duplicate = true;
      continue;
    }
    const item = { id: nextId++, file, media: mediaKind(file), state: "queued" };
    items.push(item);
    $("file-list").append(buildRow(item));
    if (item.media) {
      queue = queue.then(() => hashItem(item));
    } else {
      item.state = "unsupported";
    }
    showItem(item);
  }
  if (duplicate) say(t("duplicate"));
  update();
  if (firstFiles && items.length) $("review-title").focus();
}

async function hashItem(item) {
  if (item.state !== "queued") return; // removed while waiting
  item.state = "hashing";
  item.controller = new AbortController();
  showItem(item);
  try {
    item.result = await hashFile(item.file, {
      signal: item.controller.signal,
      onProgress: ({ fraction }) => {
        item.row.progress.value = fraction;
      },
    });
    const twin = items.find((other) => other.state === "done" && other.result.md5 === item.result.md5);
    if (twin) {
      removeItem(item);
      say(t("duplicate"));
      return;
    }
    item.state = "done";
    drawPreview(item).catch(() => {}); // a preview is a nicety; the fingerprint is what counts
  } catch (error) {
    if (error.code === "aborted") return;
    item.state = error.code === "unsupported_media" ? "unsupported" : "failed";
  }
  showItem(item);
  update();
}

function removeItem(item, { focusNext = false } = {}) {
  const index = items.indexOf(item);
  if (index < 0) return;
  item.controller?.abort();
  item.state = "removed";
  items.splice(index, 1);
  item.row.li.remove();
  update();
  if (focusNext) {
    const next = items[index] ?? items[index - 1];
    (next ? next.row.remove : items.length ? $("review-title") : $("files")).focus();
  }
}

// What will be sent

/**
 * What will be sent: `hashes`, the request's list: the MD5 of every file; the PDQ (with
 * its quality) of every matchable image, and for a photo with an EXIF orientation also
 * the PDQ of its pixels as stored (platforms' tools hash those: hashing/orientation.js);
 * the vPDQ of every video that has one worth sending (videoProblem). `sent` maps each
 * file to the number of picture, file and video fingerprints it adds, and of those it
 * shares with a file above (`shared`): a hash already in the list is not added twice, so
 * the counts shown are the ones the server keeps.
 */
function plan() {
  const hashes = [];
  const sent = new Map();
  const seen = new Set();
  for (const item of items) {
    if (item.state !== "done") continue;
    const { result } = item;
    const counts = { pictures: 0, files: 0, videos: 0, shared: 0 };
    const add = (kind, hash) => {
      const key = `${hash.algorithm} ${hash.value}`;
      if (seen.has(key)) {
        counts.shared++; // the same picture as a file above: a near copy, or the same photo
        return;
      }
      seen.add(key);
      hashes.push(hash);
      counts[kind]++;
    };
    add("files", { media: result.media, algorithm: "md5", value: result.md5 });
    if (result.media === "image") {
      for (const picture of [result, result.stored]) {
        if (picture?.pdq && picture.quality >= minQuality) {
          add("pictures", { media: "image", algorithm: "pdq", value: picture.pdq, quality: picture.quality });
        }
      }
    }
    if (result.media === "video" && !videoProblem(result)) {
      add("videos", { media: "video", algorithm: "vpdq", value: vpdqSignal(result.vpdq) });
    }
    sent.set(item, counts);
  }
  return { hashes, sent };
}

/** The request's list of hashes (plan). */
function payload() {
  return plan().hashes;
}

/**
 * A video fingerprint as it is sent: the signal string platforms' vPDQ tools read, a JSON
 * array of "<pdq hex>,<quality>,<seconds to 3 decimals>", one string per hashed frame.
 */
function vpdqSignal(frames) {
  return JSON.stringify(frames.map((f) => `${f.pdq},${f.quality},${f.timestamp.toFixed(3)}`));
}

/**
 * The size of the case's video fingerprints as the server counts it: in its canonical
 * spelling, which has ", " between frames where JSON.stringify writes ",".
 */
function vpdqBytes(hashes) {
  const vpdqs = hashes.filter((hash) => hash.algorithm === "vpdq");
  return vpdqs.reduce((sum, hash) => sum + hash.value.length + JSON.parse(hash.value).length - 1, 0);
}

/** Why a video's fingerprint is not sent (the note its row shows), or null when it is sent. */
function videoProblem(result) {
  if (!result.vpdq?.length) return t("video_undecodable");
  if (result.vpdq.length > maxVpdqFrames) return t("video_too_long");
  if (!result.vpdq.some((frame) => frame.quality >= minQuality)) return t("video_weak");
  return null;
}

/**
 * Show the request body, one hash to a line so that it reads well on a phone. The
 * text is exactly JSON (the same value as the body; only the spacing differs).
 */
function showPayload(hashes) {
  const line = (hash, index) =>
    element(
      "span",
      "json-line",
      `{${Object.entries(hash)
        .map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`)
        .join(", ")}}${index < hashes.length - 1 ? "," : ""}`,
    );
  $("payload").replaceChildren(
    element("span", "json-edge", '{"hashes": ['),
    ...hashes.map(line),
    element("span", "json-edge", "]}"),
  );
}

/**
 * The same in plain words, in the page's language: each file, and the fingerprints of it
 * that will be sent (the sentences and their numbers come from the server, pages.py).
 */
function showSummary(sent) {
  const lines = [];
  for (const item of items) {
    if (item.state === "queued" || item.state === "hashing") continue;
    const counts = sent.get(item);
    const li = element("li");
    const name = element("p", "sent-name", item.file.name);
    name.dir = "auto";
    const what = element("ul", "sent-what");
    if (counts?.pictures) what.append(element("li", null, t(`sent_pictures_${counts.pictures}`)));
    if (counts?.pictures === 2) what.append(element("li", "muted", t("sent_two_ways")));
    if (counts?.videos) what.append(element("li", null, t("sent_videos_1")));
    if (counts?.files) what.append(element("li", null, t("sent_files_1")));
    if (counts?.shared) what.append(element("li", "muted", t("sent_shared")));
    if (!what.children.length) what.append(element("li", null, t("sent_nothing")));
    li.append(name, what);
    lines.push(li);
  }
  $("sent-summary").replaceChildren(...lines);
}

function update() {
  const { hashes, sent } = plan();
  const working = items.filter((item) => item.state === "queued" || item.state === "hashing").length;
  const tooMany = hashes.length > maxHashes;
  const tooMuchVideo = vpdqBytes(hashes) > maxVpdqBytes;
  $("step-review").hidden = items.length === 0;
  showSummary(sent);
  showPayload(hashes);
  $("send").disabled = sending || working > 0 || tooMany || tooMuchVideo || hashes.length === 0;
  $("send-error").textContent = tooMany ? t("too_many") : tooMuchVideo ? t("too_much_video") : "";
  for (const node of $("choose-label").querySelectorAll(".when-empty")) node.hidden = items.length > 0;
  for (const node of $("choose-label").querySelectorAll(".when-some")) node.hidden = items.length === 0;
  if (sending) {
    $("review-status").textContent = t("sending");
  } else if (working) {
    const done = items.filter((item) => item.state === "done").length;
    $("review-status").textContent = t("progress", { done: formatCount(done), total: formatCount(done + working) });
  } else {
    $("review-status").textContent = hashes.length ? t("ready_all") : "";
  }
}

/**
 * Blur the previews (the default) or show them clearly. The stylesheet shows the button's
 * label for what it will do next ("Show previews" / "Blur previews"), so it is a plain
 * button without aria-pressed: a toggle's label must not change with its state, or a
 * screen reader would read "Show previews, pressed" while they are blurred.
 */
function showBlur(blurred) {
  app.classList.toggle("previews-clear", !blurred);
}

function say(text) {
  $("review-status").textContent = text;
}

// One row per file

function buildRow(item) {
  const li = element("li", "file");
  const canvas = element("canvas", "thumb");
  canvas.width = canvas.height = THUMB;
  canvas.setAttribute("aria-hidden", "true");
  drawIcon(canvas, item.media);
  const body = element("div", "file-body");
  const name = element("p", "file-name", item.file.name);
  name.id = `file-${item.id}-name`;
  name.dir = "auto";
  const kind = item.media === "image" ? "photo" : item.media === "video" ? "video" : "other";
  const meta = element("p", "file-meta", t(kind, { size: formatBytes(item.file.size) }));
  const state = element("p", "file-state");
  state.id = `file-${item.id}-state`;
  const progress = element("progress");
  progress.max = 1;
  progress.value = 0;
  progress.setAttribute("aria-labelledby", `${name.id} ${state.id}`);
  const note = element("p", "file-note");
  const remove = element("button", "button button-small remove", t("remove"));
  remove.type = "button";
  remove.setAttribute("aria-label", t("remove_named", { name: item.file.name }));
  remove.addEventListener("click", () => removeItem(item, { focusNext: true }));
  body.append(name, meta, state, progress, note);
  li.append(canvas, body, remove);
  item.row = { li, canvas, state, progress, note, remove };
  return li;
}

function showItem(item) {
  const { state, progress, note, li, remove } = item.row;
  const result = item.result;
  progress.hidden = item.state !== "hashing" && item.state !== "queued";
  state.textContent = item.state === "done" ? t("ready") : progress.hidden ? "" : t("hashing");
  // While a file is being fingerprinted (a long video takes minutes), its button stops that.
  remove.textContent = progress.hidden ? t("remove") : t("cancel");
  const name = item.file.name;
  remove.setAttribute("aria-label", progress.hidden ? t("remove_named", { name }) : t("cancel_named", { name }));
  li.classList.toggle("file-problem", item.state === "unsupported" || item.state === "failed");
  const videoNote = item.state === "done" && result.media === "video" ? videoProblem(result) : null;
  if (item.state === "unsupported") note.textContent = t("unsupported");
  else if (item.state === "failed") note.textContent = t("failed");
  else if (item.state === "done" && result.media === "image" && !result.pdq) note.textContent = t("undecodable");
  else if (item.state === "done" && result.media === "image" && result.quality < minQuality) note.textContent = t("weak");
  else if (videoNote) note.textContent = videoNote;
  else note.textContent = "";
}

/** A small preview drawn from the file on this device: no upload, no URL, nothing kept. */
async function drawPreview(item) {
  const { width, height } = item.result;
  if (item.media !== "image" || !width || !height) return;
  const scale = THUMB / Math.min(width, height);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const bitmap = await createImageBitmap(item.file, { resizeWidth: w, resizeHeight: h, resizeQuality: "medium" });
  const context = item.row.canvas.getContext("2d");
  context.clearRect(0, 0, THUMB, THUMB);
  context.drawImage(bitmap, Math.round((THUMB - w) / 2), Math.round((THUMB - h) / 2));
  bitmap.close();
  item.row.canvas.classList.add("picture");
}

/** A neutral icon: a play sign for videos, a landscape for pictures. */
function drawIcon(canvas, media) {
  const c = canvas.getContext("2d");
  c.fillStyle = "#dde6e7";
  c.fillRect(0, 0, THUMB, THUMB);
  c.fillStyle = "#3d5a5e";
  c.beginPath();
  if (media === "video") {
    c.moveTo(44, 32);
    c.lineTo(84, 56);
    c.lineTo(44, 80);
  } else {
    c.moveTo(22, 84);
    c.lineTo(48, 48);
    c.lineTo(66, 70);
    c.lineTo(76, 58);
    c.lineTo(92, 84);
    c.moveTo(86, 36);
    c.arc(78, 36, 8, 0, 2 * Math.PI);
  }
  c.closePath();
  c.fill();
}

// Sending, and the codes

async function send() {
  const hashes = payload();
  if (!hashes.length || sending) return;
  sending = true;
  update();
  try {
    showResult(await submitCase(hashes));
  } catch (error) {
    sending = false;
    update();
    $("send-error").textContent = errorMessage(error);
  }
}

let codes = null;

function showResult(created) {
  codes = { number: created.case_number, pin: created.pin };
  $("case-number").textContent = codes.number;
  $("case-pin").textContent = codes.pin;
  items.length = 0; // let go of the files
  $("file-list").replaceChildren();
  for (const id of ["intro", "intro-more", "step-choose", "step-review", "status-link"]) $(id).hidden = true;
  $("step-result").hidden = false;
  $("result-title").focus();
}

function codesText() {
  return [
    t("file_title"),
    "",
    t("file_case", { number: codes.number }),
    t("file_pin", { pin: codes.pin }),
    "",
    t("file_status", { url: t("status_url") }),
    t("file_private"),
    "",
  ].join("\n");
}

async function copyCodes() {
  try {
    await navigator.clipboard.writeText(codesText());
    $("action-status").textContent = t("copied");
  } catch {
    $("action-status").textContent = t("copy_failed");
  }
}

function saveCodes() {
  const url = URL.createObjectURL(new Blob([codesText()], { type: "text/plain;charset=utf-8" }));
  const link = element("a");
  link.href = url;
  link.download = `haven-case-${codes.number}.txt`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// Wiring

$("files").addEventListener("change", (event) => {
  const files = [...event.target.files];
  event.target.value = ""; // choosing the same file again must fire "change" again
  addFiles(files);
});
$("send").addEventListener("click", send);
$("blur-toggle").addEventListener("click", () => showBlur(app.classList.contains("previews-clear")));
$("copy").addEventListener("click", copyCodes);
$("print").addEventListener("click", () => window.print());
$("save").addEventListener("click", saveCodes);
showBlur(true);
app.hidden = false;
update();
