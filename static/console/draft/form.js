// The draft form: the children, suspects and texts it repeats, the AlertIn body it builds,
// and the API's problems shown next to their fields (linked with aria-describedby) and in a
// summary. Field ids follow the API's field paths: "children.0.name" is #f-children-0-name.

const CHILD_FIELDS = [
  ["name", "Name", "text", 200],
  ["age", "Age", "text", 3],
  ["description", "Description (hair, clothes, height)", "textarea", 1000],
  ["photo_url", "Photo URL", "url", 2000],
];
const SUSPECT_FIELDS = [
  ["name", "Name", "text", 200],
  ["description", "Description", "textarea", 1000],
];

export const fieldId = (path) => `f-${path.replaceAll(".", "-")}`;

function field(path, label, type, maxLength) {
  const wrapper = document.createElement("div");
  wrapper.className = "field";
  wrapper.dataset.field = path;
  const labelElement = document.createElement("label");
  labelElement.htmlFor = fieldId(path);
  labelElement.textContent = label;
  const input = document.createElement(type === "textarea" ? "textarea" : "input");
  input.id = fieldId(path);
  if (type === "textarea") input.rows = 2;
  else {
    input.type = type;
    input.autocomplete = "off";
  }
  if (path.endsWith(".age")) input.inputMode = "numeric";
  input.maxLength = maxLength;
  const error = document.createElement("p");
  error.className = "field-error";
  error.id = `${input.id}-error`;
  error.hidden = true;
  wrapper.append(labelElement, input, error);
  return wrapper;
}

// A list of fieldsets ("Child 1", "Child 2", ...) whose values survive re-numbering.
function repeater({ container, name, prefix, fields, min }) {
  let values = [];
  function read() {
    values = values.map((_, index) =>
      Object.fromEntries(fields.map(([key]) => [key, document.getElementById(fieldId(`${prefix}.${index}.${key}`))?.value ?? ""])),
    );
    return values;
  }
  function render() {
    container.replaceChildren(
      ...values.map((value, index) => {
        const set = document.createElement("fieldset");
        set.className = "repeat";
        const legend = document.createElement("legend");
        legend.textContent = `${name} ${index + 1}`;
        set.append(legend);
        for (const [key, label, type, max] of fields) {
          const element = field(`${prefix}.${index}.${key}`, label, type, max);
          element.querySelector("input, textarea").value = value[key] ?? "";
          set.append(element);
        }
        if (values.length > min) {
          const remove = document.createElement("button");
          remove.type = "button";
          remove.className = "button-small";
          remove.textContent = `Remove ${name.toLowerCase()} ${index + 1}`;
          remove.addEventListener("click", () => {
            read();
            values.splice(index, 1);
            render();
            container.dispatchEvent(new Event("input", { bubbles: true }));
          });
          set.append(remove);
        }
        return set;
      }),
    );
  }
  return {
    add(value = {}) {
      read();
      values.push(value);
      render();
      const inputs = container.querySelectorAll("fieldset:last-of-type input, fieldset:last-of-type textarea");
      inputs[0]?.focus();
    },
    set(list) {
      values = list.length ? list.map((item) => ({ ...item })) : Array.from({ length: min }, () => ({}));
      render();
    },
    values: read,
  };
}

function compact(object) {
  const out = {};
  for (const [key, value] of Object.entries(object)) {
    const text = typeof value === "string" ? value.trim() : value;
    if (text !== "" && text !== null && text !== undefined) out[key] = text;
  }
  return out;
}

// An <input type=datetime-local> value as an ISO time with the browser's offset, and back.
export const toIso = (local) => (local ? new Date(local).toISOString() : undefined);
export function toLocal(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function createDraftForm({ form, summary, summaryList }) {
  const $ = (id) => document.getElementById(id);
  const children = repeater({ container: $("children"), name: "Child", prefix: "children", fields: CHILD_FIELDS, min: 1 });
  const suspects = repeater({ container: $("suspects"), name: "Suspect", prefix: "suspects", fields: SUSPECT_FIELDS, min: 0 });
  children.set([]);
  suspects.set([]);
  $("add-child").addEventListener("click", () => children.add());
  $("add-suspect").addEventListener("click", () => suspects.add());

  // Texts per language: one textarea each.
  const texts = new Map();
  let storedTexts = [];
  function renderTexts() {
    $("texts").replaceChildren(
      ...[...texts.entries()].map(([language, text]) => {
        const element = field(`texts.${language}`, `Text in ${language}`, "textarea", 1000);
        const area = element.querySelector("textarea");
        area.value = text;
        area.lang = language;
        area.dir = "auto";
        area.addEventListener("input", () => texts.set(language, area.value));
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "button-small";
        remove.textContent = `Remove the ${language} text`;
        remove.addEventListener("click", () => {
          texts.delete(language);
          renderTexts();
          form.dispatchEvent(new Event("input"));
        });
        element.append(remove);
        return element;
      }),
    );
  }
  $("add-text").addEventListener("click", () => {
    const language = $("text-language").value;
    if (!texts.has(language)) texts.set(language, "");
    renderTexts();
    document.getElementById(fieldId(`texts.${language}`))?.focus();
  });

  const touched = new Set();
  form.addEventListener("input", (event) => event.target.id && touched.add(event.target.id));
  form.addEventListener("change", (event) => event.target.id && touched.add(event.target.id));
  const value = (id) => $(id)?.value.trim() ?? "";

  // The draft as an AlertIn body; `areas` from the area editor.
  function body(areas, { forUpdate = false } = {}) {
    const draft = {};
    if (!forUpdate) draft.status = form.querySelector("input[name=status]:checked")?.value;
    const expires = toIso(value("f-expires"));
    if (expires) draft.expires = expires;
    draft.areas = areas;
    draft.children = children.values().map((child) => {
      const out = compact(child);
      out.name = child.name.trim();
      // A whole number goes as a number; anything else as typed, for the API to name it.
      if (out.age !== undefined && /^\d+$/.test(out.age)) out.age = Number(out.age);
      return out;
    });
    draft.suspects = suspects.values().map(compact).filter((suspect) => Object.keys(suspect).length);
    const vehicle = compact(Object.fromEntries(["make", "model", "color", "plate", "plate_state"].map((key) => [key, value(`f-vehicle-${key}`)])));
    if (Object.keys(vehicle).length) draft.vehicle = vehicle;
    else if (forUpdate) draft.vehicle = null; // an update removes a field with null
    const lastSeen = compact({
      at: toIso(value("f-last_seen-at")),
      place: value("f-last_seen-place"),
      direction: value("f-last_seen-direction"),
    });
    if (Object.keys(lastSeen).length) draft.last_seen = lastSeen;
    else if (forUpdate) draft.last_seen = null;
    draft.contact_phone = value("f-contact_phone");
    const written = Object.fromEntries([...texts.entries()].filter(([, text]) => text.trim()));
    if (forUpdate) {
      // An update merges texts per language: a removed one is sent as null.
      for (const language of storedTexts) if (!(language in written)) written[language] = null;
    }
    draft.texts = written;
    return draft;
  }

  function fill(content) {
    children.set(content.children ?? []);
    suspects.set(content.suspects ?? []);
    for (const [key, text] of Object.entries(content.vehicle ?? {})) if ($(`f-vehicle-${key}`)) $(`f-vehicle-${key}`).value = text ?? "";
    $("f-last_seen-at").value = toLocal(content.last_seen?.at);
    $("f-last_seen-place").value = content.last_seen?.place ?? "";
    $("f-last_seen-direction").value = content.last_seen?.direction ?? "";
    $("f-contact_phone").value = content.contact_phone ?? "";
    const status = form.querySelector(`input[name=status][value="${content.status}"]`);
    if (status) status.checked = true;
    $("f-expires").value = toLocal(content.expires);
    texts.clear();
    for (const [language, text] of Object.entries(content.texts ?? {})) texts.set(language, text);
    storedTexts = [...texts.keys()];
    renderTexts();
    for (const [section, has] of [
      ["suspects-section", (content.suspects ?? []).length],
      ["vehicle-section", content.vehicle],
      ["last-seen-section", content.last_seen],
      ["texts-section", storedTexts.length],
    ]) if (has) $(section).open = true;
  }

  // The element a field path's problem belongs to: the path's own field, or its nearest
  // parent that has one ("children.0.photo_url" -> #f-children-0-photo_url).
  function elementFor(path) {
    const parts = path.split(".");
    while (parts.length) {
      const element = document.getElementById(fieldId(parts.join(".")));
      if (element) return element;
      parts.pop();
    }
    return null;
  }

  function clear() {
    for (const error of form.querySelectorAll(".field-error[id^=f-]")) {
      error.hidden = true;
      error.textContent = "";
      const input = document.getElementById(error.id.replace(/-error$/, ""));
      if (input) {
        input.removeAttribute("aria-invalid");
        const described = (input.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && id !== error.id);
        if (described.length) input.setAttribute("aria-describedby", described.join(" "));
        else input.removeAttribute("aria-describedby");
      }
    }
  }

  // Shows `list` ({field, problem}) next to their fields: only fields the officer has
  // touched, unless `all`. Area problems go to `onAreaProblem(index, text)`. Returns the
  // problems shown.
  function showProblems(list, { all = false, onAreaProblem = () => {} } = {}) {
    clear();
    const shown = [];
    for (const { field: path, problem } of list) {
      const area = /^areas\.(\d+)/.exec(path);
      if (area) {
        onAreaProblem(Number(area[1]), problem);
        shown.push({ path, problem, target: "place-input" });
        continue;
      }
      const element = elementFor(path === "areas" ? "areas" : path) ?? (path === "areas" ? $("f-areas") : null);
      const input = path === "areas" ? $("place-input") : element;
      if (!all && !(input && touched.has(input.id))) continue;
      const errorElement = document.getElementById(`${fieldId(path)}-error`) ?? (element ? document.getElementById(`${element.id}-error`) : null);
      if (errorElement && input) {
        errorElement.textContent = problem;
        errorElement.hidden = false;
        input.setAttribute("aria-invalid", "true");
        const described = new Set((input.getAttribute("aria-describedby") ?? "").split(" ").filter(Boolean));
        described.add(errorElement.id);
        input.setAttribute("aria-describedby", [...described].join(" "));
        input.closest("details")?.setAttribute("open", "");
      }
      shown.push({ path, problem, target: input?.id ?? null });
    }
    return shown;
  }

  function showSummary(shown) {
    summaryList.replaceChildren(
      ...shown.map(({ path, problem, target }) => {
        const item = document.createElement("li");
        const text = `${path}: ${problem}`;
        if (target) {
          const link = document.createElement("a");
          link.href = `#${target}`;
          link.textContent = text;
          item.append(link);
        } else item.textContent = text;
        return item;
      }),
    );
    summary.hidden = shown.length === 0;
    if (shown.length) summary.focus();
  }

  return { body, fill, showProblems, showSummary, clear, touched };
}
