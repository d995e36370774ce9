// The area editor (templates/console/_area_editor.html): areas in every form the API takes.
// Counties and states by name (typeahead over /console/geo/places.json), a circle around a
// ZIP code, typed coordinates or a point picked on the map (radius in km or miles), a polygon
// drawn on the map or pasted as CAP text, and a GeoJSON file. Every way has a typed
// alternative to the map. The editor holds the list and calls `onChange` after each change.

import { get } from "./api.js";

export const KM_PER_MILE = 1.609344; // exact, by definition of the international mile
const MAX_OPTIONS = 8;

// Radius in km as CAP writes it: exact to the metre's millionth, without float noise.
export function radiusKm(value, unit) {
  const km = unit === "mi" ? value * KM_PER_MILE : value;
  return String(Number(km.toFixed(9)));
}

// "41.8781, -87.6298" or "41.8781 -87.6298" -> [lat, lon], or null.
export function parsePoint(text) {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*[,\s]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) return null;
  const lat = Number(match[1]);
  const lon = Number(match[2]);
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [lat, lon];
}

// A ring of [lat, lng] points as a closed CAP polygon.
export function capPolygon(points) {
  const ring = points.map(([lat, lon]) => `${lat.toFixed(5)},${lon.toFixed(5)}`);
  if (ring.length && ring[0] !== ring[ring.length - 1]) ring.push(ring[0]);
  return ring.join(" ");
}

let placesPromise = null;
export function loadPlaces() {
  placesPromise ??= get("/console/geo/places.json").then((answer) =>
    answer.ok && Array.isArray(answer.body) ? answer.body : [],
  );
  return placesPromise;
}

export const placeLabel = (place) =>
  place.kind === "state" ? `${place.name} (whole state)` : `${place.name}, ${place.state}`;

// Whether a place lies in a jurisdiction of SAME codes (a whole state holds its counties).
export function inJurisdiction(place, codes) {
  const same = `0${place.same.slice(1)}`;
  return codes.some((code) => code.slice(1) === same.slice(1) || (code.endsWith("000") && code.slice(1, 3) === same.slice(1, 3)));
}

// Places whose name matches `query`: names that start with it first, and within each, the
// places of the officer's own jurisdiction first.
export function matchPlaces(places, query, jurisdiction = []) {
  const wanted = query.trim().toLowerCase();
  if (!wanted) return [];
  const ranked = [[], [], [], []];
  for (const place of places) {
    const label = placeLabel(place).toLowerCase();
    const starts = label.startsWith(wanted);
    if (!starts && !label.includes(wanted) && place.same !== wanted) continue;
    ranked[(starts ? 0 : 2) + (inJurisdiction(place, jurisdiction) ? 0 : 1)].push(place);
  }
  return ranked.flat().slice(0, MAX_OPTIONS);
}

// A short description of an area for the list.
export function describeArea(area, places) {
  if (area.description) return area.description;
  if (area.same) {
    const place = places.find((item) => item.same === area.same);
    return place ? placeLabel(place) : `SAME ${area.same}`;
  }
  if (area.circle) return `Circle ${area.circle} km`;
  if (area.polygon) return `Polygon of ${area.polygon.trim().split(/\s+/).length - 1} points`;
  return "GeoJSON area";
}

export function createAreaEditor({ root, map, jurisdiction = [], onChange = () => {} }) {
  const $ = (id) => root.querySelector(`#${id}`);
  const input = $("place-input");
  const listbox = $("place-options");
  const list = $("area-list");
  let areas = [];
  let counts = [];
  let areaErrors = new Map();
  let places = [];
  let options = [];
  let active = -1;

  loadPlaces().then((loaded) => {
    places = loaded;
    render();
    // What was typed before the list arrived gets its matches now.
    if (input.value.trim() && document.activeElement === input) showOptions();
  });

  function changed() {
    counts = [];
    areaErrors = new Map();
    render();
    map?.showAreas(areas, places);
    onChange(areas);
  }

  function add(area) {
    areas = [...areas, area];
    changed();
  }

  function render() {
    list.replaceChildren(
      ...areas.map((area, index) => {
        const item = document.createElement("li");
        item.className = "area-item";
        const label = document.createElement("span");
        label.className = "area-label";
        label.textContent = describeArea(area, places);
        const count = document.createElement("span");
        count.className = "area-count";
        count.dataset.area = String(index);
        count.textContent = counts[index] === undefined ? "" : `${counts[index].toLocaleString("en-US")} subscribers`;
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "button-small";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", `Remove ${label.textContent}`);
        remove.addEventListener("click", () => {
          areas = areas.filter((_, i) => i !== index);
          changed();
          input.focus();
        });
        item.append(label, count, remove);
        const problem = areaErrors.get(index);
        if (problem) {
          const error = document.createElement("p");
          error.className = "field-error";
          error.id = `area-${index}-error`;
          error.textContent = problem;
          remove.setAttribute("aria-describedby", error.id);
          item.append(error);
        }
        return item;
      }),
    );
  }

  // Typeahead: a combobox with a listbox of matches (ARIA 1.2 pattern).
  function showOptions() {
    options = matchPlaces(places, input.value, jurisdiction);
    active = options.length ? 0 : -1;
    listbox.replaceChildren(
      ...options.map((place, index) => {
        const option = document.createElement("li");
        option.id = `place-option-${index}`;
        option.setAttribute("role", "option");
        option.textContent = placeLabel(place);
        option.addEventListener("mousedown", (event) => event.preventDefault());
        option.addEventListener("click", () => choose(index));
        return option;
      }),
    );
    listbox.hidden = options.length === 0;
    input.setAttribute("aria-expanded", String(options.length > 0));
    highlight();
  }

  function highlight() {
    listbox.querySelectorAll("[role=option]").forEach((option, index) => {
      option.setAttribute("aria-selected", String(index === active));
    });
    if (active >= 0) input.setAttribute("aria-activedescendant", `place-option-${active}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function closeOptions() {
    options = [];
    active = -1;
    listbox.hidden = true;
    listbox.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    const place = options[index];
    if (!place) return;
    closeOptions();
    input.value = "";
    add({ same: place.same, description: placeLabel(place) });
    input.focus();
  }

  input.addEventListener("focus", () => loadPlaces());
  input.addEventListener("input", showOptions);
  input.addEventListener("blur", () => setTimeout(closeOptions, 150));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) showOptions();
      const step = event.key === "ArrowDown" ? 1 : -1;
      active = (active + step + options.length) % Math.max(options.length, 1);
      highlight();
      event.preventDefault();
    } else if (event.key === "Enter") {
      // Never submits the form from here: Enter picks the highlighted place.
      event.preventDefault();
      if (active >= 0) choose(active);
    } else if (event.key === "Escape") {
      closeOptions();
    }
  });

  // Circles.
  const circleError = $("circle-error");
  const circleStatus = $("circle-status");
  const say = (element, text) => {
    element.textContent = text;
    element.hidden = !text;
  };
  $("circle-pick").addEventListener("click", () => {
    map?.pickPoint(([lat, lon]) => {
      $("circle-point").value = `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
      $("circle-zip").value = "";
      $("circle-radius").focus();
    });
  });
  $("circle-add").addEventListener("click", async () => {
    say(circleError, "");
    const radius = Number($("circle-radius").value);
    const unit = $("circle-unit").value;
    if (!(radius > 0)) return say(circleError, "Give a radius greater than 0.");
    let point = null;
    let where = "";
    const zip = $("circle-zip").value.trim();
    if (zip) {
      if (!/^\d{5}$/.test(zip)) return say(circleError, "A ZIP code is 5 digits.");
      say(circleStatus, `Looking up ZIP code ${zip}…`);
      const answer = await get(`/console/geo/zip/${zip}.json`);
      say(circleStatus, "");
      if (!answer.ok) return say(circleError, answer.body?.error?.message ?? `No ZIP code ${zip} is known.`);
      point = [answer.body.lat, answer.body.lon];
      where = `ZIP ${zip}${answer.body.place ? ` (${answer.body.place})` : ""}`;
    } else {
      point = parsePoint($("circle-point").value);
      if (!point) return say(circleError, "Give a ZIP code, or a latitude and longitude such as 41.8781, -87.6298.");
      where = `${point[0]}, ${point[1]}`;
    }
    const km = radiusKm(radius, unit);
    add({
      circle: `${point[0]},${point[1]} ${km}`,
      description: `${radius} ${unit === "mi" ? "miles" : "km"} around ${where}`,
    });
  });

  // Polygons.
  const polygonError = $("polygon-error");
  $("polygon-draw").addEventListener("click", () => {
    map?.drawPolygon((points) => add({ polygon: capPolygon(points) }));
  });
  $("polygon-add").addEventListener("click", () => {
    const text = $("polygon-text").value.trim().replace(/\s+/g, " ");
    if (!text) return say(polygonError, "Paste a CAP polygon: latitude,longitude pairs separated by spaces.");
    say(polygonError, "");
    $("polygon-text").value = "";
    add({ polygon: text });
  });

  // GeoJSON files, read here in the browser.
  const geojsonError = $("geojson-error");
  $("geojson-file").addEventListener("change", (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => {
      try {
        const geojson = JSON.parse(String(reader.result));
        if (typeof geojson !== "object" || geojson === null || Array.isArray(geojson)) throw new Error();
        say(geojsonError, "");
        add({ geojson, description: file.name });
      } catch {
        say(geojsonError, `${file.name} is not a GeoJSON object.`);
      }
      event.target.value = "";
    };
    reader.onerror = () => say(geojsonError, `${file.name} could not be read.`);
    reader.readAsText(file);
  });

  return {
    get areas() {
      return areas;
    },
    set(next) {
      areas = [...next];
      changed();
    },
    replace(index, area) {
      areas = areas.map((old, i) => (i === index ? area : old));
      changed();
    },
    // Per-area subscriber counts, in the order of the areas.
    showCounts(next) {
      counts = next;
      render();
    },
    // Problems of one area: {index: message}; an empty map clears them.
    showErrors(next) {
      areaErrors = next;
      render();
    },
    focus() {
      input.focus();
    },
  };
}
