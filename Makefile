# The two commands of the README. Each installs what it needs on a fresh machine, then runs.
#   make run   -> install floodtwin, print the reach inventory, check the flood-map library (built if missing
#                 or stale) and what 22,000 m³/s means: the full coupled 1D–2D run, its report and the flood
#                 map it writes (the main job)
#   make test  -> install floodtwin with its test extras and system packages, run the whole suite (which
#                 executes the notebooks and the user guide's commands)
#   make notebooks -> re-execute the analyst notebooks in place (their outputs are committed)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: run test install install-test system-packages notebooks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-test: $(BIN)/python system-packages
	$(BIN)/python -m pip install -q -e ".[test]"

# Mosquitto: the real MQTT broker the sensor tests start on a loopback port.
# fonts-wqy-microhei: a CJK font, so that maps draw Chinese place names.
# libudunits2-0: the units library of cf-units, which the CF compliance checker of the tests needs.
# chromium: the real browser the offline HTML map is loaded in (headless) by its integration test.
# openssl: makes the self-signed certificate of the HTTPS feed server of the feed tests (TLS verification).
# chromium-driver: the WebDriver the screen's browser tests drive chromium with (selenium).
system-packages:
	@need=""; \
	{ command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto; } || need="$$need mosquitto"; \
	{ fc-list 2>/dev/null | grep -qi "wqy\|noto sans cjk"; } || need="$$need fonts-wqy-microhei"; \
	{ ldconfig -p 2>/dev/null | grep -q "libudunits2\.so"; } || need="$$need libudunits2-0"; \
	command -v chromium >/dev/null 2>&1 || need="$$need chromium"; \
	command -v openssl >/dev/null 2>&1 || need="$$need openssl"; \
	command -v chromedriver >/dev/null 2>&1 || need="$$need chromium-driver"; \
	if [ -n "$$need" ]; then \
	  echo "installing system packages:$$need"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi

# the flood-map library ships with the repository; built once (with progress) when missing or stale
run: install
	$(BIN)/floodtwin reach info
	$(BIN)/floodtwin library info || $(BIN)/floodtwin library build
	$(BIN)/floodtwin scenario --full --discharge 22000

# pytest exits 5 when it collects no tests: that is not a failure of the suite.
test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

# after a change to a notebook or to what it shows: refresh the committed outputs (the suite checks them)
notebooks: install-test
	$(BIN)/python notebooks/_execute.py
