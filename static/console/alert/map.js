// A read-only map of an alert's areas: Leaflet (vendored, global L) over the bundled state
// outlines, and an agency's base map when HAVEN_MAP_TILES_URL names one.

import { noticeSessionEnd } from "../draft/session.js";

const AREA_STYLE = { color: "#b3261e", weight: 2, fillOpacity: 0.2 };
const OUTLINE_STYLE = { color: "#6b6b6b", weight: 1, fill: false, interactive: false };

/** Draws `areas` (a GeoJSON FeatureCollection) in `element`; returns the Leaflet map. */
export function drawAreas(element, areas, { tilesUrl, tilesAttribution } = {}) {
  const L = window.L;
  if (!L || !element) return null;
  const map = L.map(element, {
    zoomSnap: 0.25,
    scrollWheelZoom: false,
    keyboard: false, // a read-only picture: keyboard users need not stop on it
    attributionControl: Boolean(tilesUrl),
  });
  if (tilesUrl) L.tileLayer(tilesUrl, { attribution: tilesAttribution ?? "" }).addTo(map);
  const drawn = L.geoJSON(areas, {
    style: AREA_STYLE,
    pointToLayer: (_feature, latlng) => L.circleMarker(latlng, AREA_STYLE),
  }).addTo(map);
  const bounds = drawn.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [16, 16] });
  else map.setView([39.5, -98.35], 4);
  fetch("/console/geo/states.json", { credentials: "same-origin" })
    .then((response) => {
      noticeSessionEnd(response.status);
      return response.ok ? response.json() : null;
    })
    .then((states) => {
      if (states) L.geoJSON(states, { style: OUTLINE_STYLE }).addTo(map).bringToBack();
    })
    .catch(() => {}); // the outlines are a backdrop: the areas stand without them
  return map;
}
