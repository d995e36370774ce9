// The subscription form, enhanced: "Use my current location" and adding point rows in place.
// The form works without this script (the server adds rows; coordinates can be typed).
// The position is asked for only when the button is pressed, and stays in the form until the
// person subscribes.

const strings = JSON.parse(document.getElementById("i18n-strings")?.textContent || "{}");
const form = document.getElementById("subscribe");

function format(text, values) {
  return text.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

function rows() {
  return [...form.querySelectorAll("#point-rows .point")];
}

function say(text) {
  document.getElementById("locate-status").textContent = text;
}

function addRow() {
  const max = Number(form.dataset.maxPlaces);
  const current = rows();
  if (current.length >= max) {
    say(strings.full);
    return null;
  }
  const index = current.length;
  const row = current[current.length - 1].cloneNode(true);
  row.dataset.index = String(index);
  row.querySelector("legend").textContent = row
    .querySelector("legend")
    .textContent.replace(/\d+/, String(index + 1));
  for (const input of row.querySelectorAll("input")) {
    const name = input.name;
    input.id = `${name}-${index}`;
    input.value = "";
    input.removeAttribute("aria-invalid");
    input.removeAttribute("autofocus");
    row.querySelector(`label[for^="${name}-"]`).htmlFor = input.id;
  }
  document.getElementById("point-rows").append(row);
  if (index + 1 >= max) document.getElementById("add-point").disabled = true;
  say(format(strings.added, { num: index + 1 }));
  return row;
}

function emptyRow() {
  const empty = rows().find((row) => [...row.querySelectorAll("input")].every((i) => !i.value));
  return empty || addRow();
}

function locate() {
  if (!navigator.geolocation) {
    say(strings.unavailable);
    return;
  }
  say(strings.locating);
  navigator.geolocation.getCurrentPosition(
    (position) => {
      const row = emptyRow();
      if (!row) return;
      // About 100 metres: enough to match alerts, no finer than needed.
      row.querySelector('input[name="lat"]').value = position.coords.latitude.toFixed(3);
      row.querySelector('input[name="lon"]').value = position.coords.longitude.toFixed(3);
      // Names the point it filled in ("Point 2"), as its legend does: where that is on the
      // page depends on the screen, so no "above" or "below".
      say(format(strings.located, { num: Number(row.dataset.index) + 1 }));
      row.querySelector('input[name="lat"]').focus();
    },
    (error) => say(error.code === error.PERMISSION_DENIED ? strings.denied : strings.unavailable),
    { enableHighAccuracy: false, timeout: 15000, maximumAge: 60000 },
  );
}

if (form) {
  const locateButton = document.getElementById("locate");
  locateButton.hidden = false;
  document.getElementById("locate-hint").hidden = false;
  locateButton.addEventListener("click", locate);
  const addButton = document.getElementById("add-point");
  addButton.type = "button";
  addButton.addEventListener("click", (event) => {
    event.preventDefault();
    const row = addRow();
    row?.querySelector("input").focus();
  });
}
