# Adapter Studio: desktop integration and the standalone bundle (docs/packaging.md).
#
#   make install-desktop      menu entry, icons, project-file type and metainfo for the current user
#   make uninstall-desktop    removes them again
#   make package              the one-folder bundle: dist/adapter-studio/adapter-studio (from the lock)
#   make lock                 refresh the lock, requirements/*.txt (then run the whole suite)
#   make translations         the zh_CN .ts/.qm from the studio's strings and assets/translations/fill_zh_CN.py
#
# install-desktop points the menu entry at EXEC: by default the `adapter-studio` on PATH (pipx/uv),
# else the bundle in dist/ when it has been built; or name one:
#   make install-desktop EXEC=/opt/adapter-studio/adapter-studio

APP_ID    := io.github.adapterstudio.AdapterStudio
PYTHON    ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
XDG_DATA_HOME ?= $(HOME)/.local/share
DATA      := $(XDG_DATA_HOME)
BUNDLE    := $(CURDIR)/dist/adapter-studio/adapter-studio
EXEC      ?= $(or $(shell command -v adapter-studio 2>/dev/null),$(wildcard $(BUNDLE)),adapter-studio)
PNG_SIZES := 16 24 32 48 64 128 256 512

.PHONY: install-desktop uninstall-desktop package icons lock translations

LUPDATE   ?= $(if $(wildcard .venv/bin/pyside6-lupdate),.venv/bin/pyside6-lupdate,pyside6-lupdate)
LRELEASE  ?= $(if $(wildcard .venv/bin/pyside6-lrelease),.venv/bin/pyside6-lrelease,pyside6-lrelease)

# The Simplified Chinese strings (docs/studio.md, Languages): the studio's strings into the .ts, the
# translations of assets/translations/fill_zh_CN.py into it, the .qm the app loads.
translations:
	$(LUPDATE) $$(find studio -name '*.py' | sort) -ts assets/translations/studio_zh_CN.ts
	$(PYTHON) assets/translations/fill_zh_CN.py
	$(LRELEASE) assets/translations/studio_zh_CN.ts -qm assets/translations/studio_zh_CN.qm

install-desktop:
	install -d "$(DATA)/applications" "$(DATA)/mime/packages" "$(DATA)/metainfo" \
		"$(DATA)/icons/hicolor/scalable/apps" "$(DATA)/icons/hicolor/scalable/mimetypes"
	sed 's|^Exec=adapter-studio |Exec="$(EXEC)" |' packaging/$(APP_ID).desktop > "$(DATA)/applications/$(APP_ID).desktop"
	install -m 644 packaging/$(APP_ID).mime.xml "$(DATA)/mime/packages/$(APP_ID).xml"
	install -m 644 packaging/$(APP_ID).metainfo.xml "$(DATA)/metainfo/$(APP_ID).metainfo.xml"
	install -m 644 assets/icons/adapter-studio.svg "$(DATA)/icons/hicolor/scalable/apps/$(APP_ID).svg"
	install -m 644 assets/icons/adapter-studio.svg "$(DATA)/icons/hicolor/scalable/mimetypes/application-x-adapter-studio-project.svg"
	for s in $(PNG_SIZES); do \
		install -d "$(DATA)/icons/hicolor/$${s}x$${s}/apps"; \
		install -m 644 assets/icons/adapter-studio-$$s.png "$(DATA)/icons/hicolor/$${s}x$${s}/apps/$(APP_ID).png"; \
	done
	-command -v update-mime-database >/dev/null && update-mime-database "$(DATA)/mime"
	-command -v update-desktop-database >/dev/null && update-desktop-database "$(DATA)/applications"
	-command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f "$(DATA)/icons/hicolor"
	@echo "Installed $(APP_ID) for $$(id -un) (Exec: $(EXEC))"

uninstall-desktop:
	rm -f "$(DATA)/applications/$(APP_ID).desktop" "$(DATA)/mime/packages/$(APP_ID).xml" \
		"$(DATA)/metainfo/$(APP_ID).metainfo.xml" "$(DATA)/icons/hicolor/scalable/apps/$(APP_ID).svg" \
		"$(DATA)/icons/hicolor/scalable/mimetypes/application-x-adapter-studio-project.svg"
	for s in $(PNG_SIZES); do rm -f "$(DATA)/icons/hicolor/$${s}x$${s}/apps/$(APP_ID).png"; done
	-command -v update-mime-database >/dev/null && update-mime-database "$(DATA)/mime"
	-command -v update-desktop-database >/dev/null && update-desktop-database "$(DATA)/applications"
	-command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t -f "$(DATA)/icons/hicolor"
	@echo "Removed $(APP_ID)"

# PyInstaller comes with the test extra (./run.sh test once). The spec refuses to bundle a package whose
# installed version differs from the app lock (requirements/app-linux-*.txt): set up with run.sh.
package:
	$(PYTHON) -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/adapter-studio.spec
	@du -sh dist/adapter-studio

# The PNGs are rendered from the SVG (Debian: apt-get install librsvg2-bin); the Windows .ico and the
# macOS .icns from the 512 px PNG with Pillow (pip install pillow; any Python).
icons:
	for s in $(PNG_SIZES); do rsvg-convert -w $$s -h $$s assets/icons/adapter-studio.svg -o assets/icons/adapter-studio-$$s.png; done
	$(PYTHON) -c 'from PIL import Image; i = Image.open("assets/icons/adapter-studio-512.png").convert("RGBA"); \
		i.save("assets/icons/adapter-studio.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)]); \
		i.save("assets/icons/adapter-studio.icns")'

# The lock: exact versions for run.sh, the bundle and CI, resolved from pyproject.toml's ranges with
# uv (installed into build/lock-tools when it is not on PATH). Deliberate, never automatic: after it,
# run the whole suite (./run.sh test, which re-installs from the new lock) and commit requirements/
# only when it passes. docs/packaging.md, "The lock".
lock:
	$(PYTHON) requirements/lock.py

# PEFT 0.21.2's own tests against our engine (tests/peft_suite/run.py): downloads PEFT's sdist into build/,
# runs the chosen files with real peft and with peft's public names served by core, prints per method.
#   make peft-suite PEFT_SUITE_ARGS='-k "LoRA or Lora"'   (a subset; --files test_config.py ... picks files)
PEFT_SUITE_ARGS ?=
peft-suite:
	$(PYTHON) -m tests.peft_suite.run $(PEFT_SUITE_ARGS)
.PHONY: peft-suite
