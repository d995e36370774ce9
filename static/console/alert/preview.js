// Each language's SMS as it is sent, with its cost: characters, segments, GSM-7 or UCS-2.

const names = new Intl.DisplayNames(["en"], { type: "language" });
const number = new Intl.NumberFormat("en");

function languageName(code) {
  try {
    return names.of(code) ?? code;
  } catch {
    return code;
  }
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

/**
 * Shows `messages` ([{language, sms, characters, segments, encoding, subscribers?}]) in
 * `container`, replacing what was there.
 */
export function showMessages(container, messages) {
  container.replaceChildren();
  if (!messages.length) {
    container.append(element("p", { class: "muted" }, "No message to show."));
    return;
  }
  const list = element("ul", { class: "preview-list" });
  for (const message of messages) {
    const item = element("li", { class: "preview-item" });
    const heading = element("p", { class: "preview-language" });
    heading.append(element("strong", {}, languageName(message.language)));
    if (message.subscribers !== undefined && message.subscribers !== null) {
      heading.append(` · ${number.format(message.subscribers)} subscribers`);
    }
    const sms = element("p", { class: "sms", lang: message.language, dir: "auto" }, message.sms);
    const characters = message.characters ?? [...message.sms].length;
    const cost = [`${number.format(characters)} characters`, `${message.segments} segment${message.segments === 1 ? "" : "s"}`];
    if (message.encoding) cost.push(message.encoding);
    item.append(heading, sms, element("p", { class: "preview-cost" }, cost.join(" · ")));
    list.append(item);
  }
  container.append(list);
}

/** Shows a problem instead of the messages. */
export function showProblem(container, text) {
  container.replaceChildren(element("p", { class: "error" }, text));
}
