# Translations: Babel catalogs under translations/. Include from the main Makefile:
# `include mk/i18n.mk`, then let `run` and `pytest` depend on `translations`.
#
#   make messages       extract every msgid into translations/messages.pot, update every
#                       catalog from it (creating missing ones), fill in English
#                       (haven/i18n.py fill_english_catalog)
#   make translations   compile each catalog's .mo (built, git-ignored, never committed)

I18N_BIN ?= $(if $(BIN),$(BIN),.venv/bin)
PYBABEL := $(I18N_BIN)/pybabel
I18N_DIR := translations
I18N_POT := $(I18N_DIR)/messages.pot
# Catalog folders: the public language codes, except Babel reads "tl" as Filipino, so its
# catalog is "fil" (haven/i18n.py CATALOG_LOCALES is the one table of such differences).
I18N_CATALOGS := en es ar bn de fr hi id is it km ko ckb ml mr nl pt si ta th fil tr uk ur vi zh ru fa pl ja ht so sw am
I18N_PO := $(foreach c,$(I18N_CATALOGS),$(I18N_DIR)/$(c)/LC_MESSAGES/messages.po)
I18N_MO := $(I18N_PO:.po=.mo)

.PHONY: messages translations clean-translations

translations: $(I18N_MO)

$(I18N_DIR)/%/LC_MESSAGES/messages.mo: $(I18N_DIR)/%/LC_MESSAGES/messages.po | $(I18N_BIN)/pybabel
	$(PYBABEL) compile --domain=messages --input-file=$< --output-file=$@ --locale=$*

messages: | $(I18N_BIN)/pybabel
	$(PYBABEL) extract --mapping-file=babel.cfg --output-file=$(I18N_POT) \
		--add-comments=Translators: --strip-comment-tags --add-location=file \
		--project=Haven --version=1 --copyright-holder="Haven contributors" \
		--width=76 .
	@for catalog in $(I18N_CATALOGS); do \
		if [ ! -f $(I18N_DIR)/$$catalog/LC_MESSAGES/messages.po ]; then \
			$(PYBABEL) init --input-file=$(I18N_POT) --output-dir=$(I18N_DIR) --locale=$$catalog \
				--width=76 || exit 1; \
		fi; \
	done
	$(PYBABEL) update --input-file=$(I18N_POT) --output-dir=$(I18N_DIR) --ignore-obsolete \
		--width=76
	$(I18N_BIN)/python -c "from haven.i18n import fill_english_catalog as f; print('en: filled', f())"

clean-translations:
	rm -f $(I18N_MO)
