// The area map: Leaflet (the global L, with leaflet-geoman for drawing) showing the bundled
// state and county outlines as vector layers, so it needs no tile server; a configured tile
// server adds a base map. It shows the areas, the part of an area outside the jurisdiction,
// and lets the officer draw a polygon or pick a circle's centre. Every use of the map has a
// typed alternative in the area editor, so the map is optional for keyboard users.

import { get } from "./api.js";

const OUTLINE = { color: "#5b6b6e", weight: 1, fill: false, interactive: false };
const COUNTY = { color: "#8a9a9c", weight: 0.5, fill: false, interactive: false };
const AREA = { color: "#0d5a61", weight: 2, fillOpacity: 0.2, pmIgnore: true };
const OUTSIDE = { color: "#a3261b", weight: 2, fillOpacity: 0.35, dashArray: "4 3", pmIgnore: true };
const COUNTY_ZOOM = 6;
const US = [[24.5, -125], [49.5, -66.9]];

// A map that does nothing, where Leaflet did not load: the typed alternatives still work.
const NO_MAP = {
  available: false,
  showAreas() {},
  showOutside() {},
  drawPolygon() {},
  pickPoint() {},
};

export function createMap(element, { tiles = null, attribution = null } = {}, { jurisdiction = [], onMode = () => {} } = {}) {
  const L = globalThis.L;
  if (!L || !element) return NO_MAP;
  const map = L.map(element, { zoomSnap: 0.5, keyboard: true, attributionControl: Boolean(tiles) });
  map.fitBounds(US);
  if (tiles) L.tileLayer(tiles, { attribution: attribution ?? "" }).addTo(map);

  const states = L.geoJSON(null, { style: OUTLINE, pmIgnore: true }).addTo(map);
  const counties = L.layerGroup().addTo(map);
  const areas = L.featureGroup().addTo(map);
  const outside = L.featureGroup().addTo(map);
  const countyData = new Map(); // state abbr -> Promise of a FeatureCollection
  const shown = new Set();
  let stateFeatures = [];

  const statesLoaded = get("/console/geo/states.json").then((answer) => {
    if (!answer.ok) return [];
    states.addData(answer.body);
    stateFeatures = answer.body.features ?? [];
    // Open on the jurisdiction's states, until the first area is drawn.
    const home = stateFeatures.filter((feature) =>
      jurisdiction.some((code) => code.slice(1, 3) === String(feature.properties?.same ?? "").slice(1, 3)),
    );
    if (home.length && !areas.getLayers().length) {
      map.fitBounds(L.geoJSON({ type: "FeatureCollection", features: home }).getBounds(), { animate: false });
    }
    return stateFeatures;
  });

  function loadCounties(abbr) {
    if (!countyData.has(abbr)) {
      countyData.set(
        abbr,
        get(`/console/geo/counties/${abbr}.json`).then((answer) => (answer.ok ? answer.body : { features: [] })),
      );
    }
    return countyData.get(abbr);
  }

  // County outlines of the states in view, once zoomed in enough to tell them apart.
  async function showCounties() {
    if (map.getZoom() < COUNTY_ZOOM) return;
    const view = map.getBounds();
    for (const feature of await statesLoaded) {
      const abbr = feature.properties?.abbr;
      if (!abbr || shown.has(abbr)) continue;
      if (!L.geoJSON(feature).getBounds().intersects(view)) continue;
      shown.add(abbr);
      counties.addLayer(L.geoJSON(await loadCounties(abbr), { style: COUNTY, pmIgnore: true }));
    }
  }
  map.on("moveend", showCounties);

  // The outline of a SAME code: a whole state from states.json, a county from its state's file.
  async function sameGeometry(same, places) {
    if (same.slice(3) === "000") {
      const feature = (await statesLoaded).find((item) => item.properties?.same === `0${same.slice(1)}`);
      return feature ?? null;
    }
    const place = places.find((item) => item.same === same);
    const abbr = place?.state;
    if (!abbr) return null;
    const data = await loadCounties(abbr);
    return (data.features ?? []).find((item) => item.properties?.same === `0${same.slice(1)}`) ?? null;
  }

  let drawing = 0;
  async function showAreas(list, places = []) {
    const generation = ++drawing;
    const layers = [];
    for (const area of list) {
      if (area.circle) {
        const [point, radius] = area.circle.trim().split(/\s+/);
        const [lat, lon] = point.split(",").map(Number);
        layers.push(L.circle([lat, lon], { ...AREA, radius: Number(radius) * 1000 }));
      } else if (area.polygon) {
        const ring = area.polygon.trim().split(/\s+/).map((pair) => pair.split(",").map(Number));
        if (ring.every((pair) => pair.length === 2 && pair.every(Number.isFinite))) {
          layers.push(L.polygon(ring, AREA));
        }
      } else if (area.geojson) {
        try {
          layers.push(L.geoJSON(area.geojson, { style: AREA, pmIgnore: true }));
        } catch {
          // Not drawable; the API's answer says what is wrong with it.
        }
      } else if (area.same) {
        const feature = await sameGeometry(area.same, places);
        if (feature) layers.push(L.geoJSON(feature, { style: AREA, pmIgnore: true }));
      }
    }
    if (generation !== drawing) return;
    areas.clearLayers();
    layers.forEach((layer) => areas.addLayer(layer));
    // Never animated: Leaflet drops a new view asked for while a zoom animation runs, so an
    // area added just as the outlines arrived (or right after another) would stay out of view.
    if (layers.length) map.fitBounds(areas.getBounds(), { maxZoom: 10, padding: [16, 16], animate: false });
  }

  function showOutside(geometry) {
    outside.clearLayers();
    if (geometry) outside.addLayer(L.geoJSON(geometry, { style: OUTSIDE, pmIgnore: true }));
  }

  function drawPolygon(done) {
    if (!map.pm) return;
    onMode("Click the map to place each corner; click the first corner again to finish.");
    map.pm.enableDraw("Polygon", { snappable: false, templineStyle: AREA, hintlineStyle: AREA });
    map.once("pm:create", (event) => {
      const ring = event.layer.getLatLngs()[0].map((point) => [point.lat, point.lng]);
      event.layer.remove();
      map.pm.disableDraw();
      onMode("");
      done(ring);
    });
  }

  function pickPoint(done) {
    onMode("Click the map at the circle's centre.");
    element.classList.add("picking");
    map.once("click", (event) => {
      element.classList.remove("picking");
      onMode("");
      done([event.latlng.lat, event.latlng.lng]);
    });
  }

  // The map may be laid out after Leaflet measured it (a column that changed width).
  new ResizeObserver(() => map.invalidateSize()).observe(element);
  return { available: true, leaflet: map, showAreas, showOutside, drawPolygon, pickPoint };
}
