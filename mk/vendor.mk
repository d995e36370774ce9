# Browser libraries vendored from npm into static/vendor/ (generated, git-ignored).
# Include from the main Makefile: `include mk/vendor.mk`. Needs node and npm.

# One grouped target (&:): one `npm ci` builds every vendored file.
VENDORED := static/vendor/hash-wasm/md5.umd.min.js static/vendor/mediabunny/mediabunny.min.js \
	static/vendor/exifr/full.esm.js static/vendor/leaflet/leaflet.js \
	static/vendor/leaflet-geoman/leaflet-geoman.min.js static/vendor/simplewebauthn/index.umd.min.js

.PHONY: vendor clean-vendor

vendor: $(VENDORED)

$(VENDORED) &: package.json package-lock.json static/build-vendor.mjs
	npm ci --no-audit --no-fund
	node static/build-vendor.mjs

clean-vendor:
	rm -rf static/vendor node_modules
