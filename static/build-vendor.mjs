// Copy the browser libraries Haven serves from node_modules/ into static/vendor/.
//
// Run after `npm ci` (see mk/vendor.mk: `make vendor`). static/vendor/ is
// generated: git-ignored, never committed, never edited by hand. Each library is
// copied with its licence, and a VERSION file records what was copied.
// No bundler: the browser imports these files as they are.

import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const vendor = join(root, "static", "vendor");

const libraries = [
  {
    // The officers' console map. BSD-2-Clause; the UMD build defines the global `L`, which
    // the drawing plugin below extends. The marker and layer images sit beside leaflet.css.
    name: "leaflet",
    files: [
      "dist/leaflet.js",
      "dist/leaflet.css",
      ["dist/images/layers.png", "images/layers.png"],
      ["dist/images/layers-2x.png", "images/layers-2x.png"],
      ["dist/images/marker-icon.png", "images/marker-icon.png"],
      ["dist/images/marker-icon-2x.png", "images/marker-icon-2x.png"],
      ["dist/images/marker-shadow.png", "images/marker-shadow.png"],
      "LICENSE",
    ],
  },
  {
    // Drawing and editing polygons and circles on the console map (Leaflet-Geoman, MIT).
    name: "@geoman-io/leaflet-geoman-free",
    dir: "leaflet-geoman",
    files: ["dist/leaflet-geoman.min.js", "dist/leaflet-geoman.css", "LICENSE"],
  },
  {
    // The browser half of WebAuthn for console sign-in (SimpleWebAuthn, MIT): the UMD build
    // defines the global `SimpleWebAuthnBrowser`.
    name: "@simplewebauthn/browser",
    dir: "simplewebauthn",
    files: ["dist/bundle/index.umd.min.js", "LICENSE.md"],
  },
  {
    // Reads a photo's EXIF orientation (JPEG, PNG eXIf, TIFF, HEIC) so that the hashing
    // worker can also fingerprint the pixels as stored. MIT, no dependencies; the ESM build
    // of the full bundle (the smaller ones read JPEG only, not PNG's eXIf chunk).
    name: "exifr",
    files: ["dist/full.esm.js", "LICENSE"],
  },
  {
    name: "hash-wasm",
    files: ["dist/md5.umd.min.js", "LICENSE"], // MD5 only: 10 KB instead of 216 KB for all algorithms
  },
  {
    // Demuxes MP4/MOV/WebM/MKV for the video fingerprint (vPDQ); the hashing worker imports
    // it only when it hashes a video. MPL-2.0: the file is copied unmodified with its licence,
    // and its source is the npm package named in VERSION. Renamed to .js because some
    // systems' mime.types do not know .mjs, and module scripts need a JavaScript type.
    name: "mediabunny",
    files: [["dist/bundles/mediabunny.min.mjs", "mediabunny.min.js"], "LICENSE"],
  },
];

for (const { name, dir, files } of libraries) {
  const source = join(root, "node_modules", name);
  const target = join(vendor, dir ?? name);
  const { version, license } = JSON.parse(readFileSync(join(source, "package.json"), "utf8"));
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const file of files) {
    const [from, to] = Array.isArray(file) ? file : [file, file.split("/").pop()];
    mkdirSync(dirname(join(target, to)), { recursive: true });
    copyFileSync(join(source, from), join(target, to));
  }
  writeFileSync(join(target, "VERSION"), `${name} ${version} (${license}), copied by static/build-vendor.mjs\n`);
  console.log(`vendored ${name} ${version} into ${target}`);
}
