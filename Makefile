# Thin wrapper for people who like make; course.py is the entry point and needs only Python >= 3.11.
PY ?= python3

.PHONY: lab test quick bless setup lock
lab:
	$(PY) course.py lab
test:
	$(PY) course.py test
quick:
	$(PY) course.py quick
bless:
	$(PY) course.py bless
setup:
	$(PY) course.py setup
lock:
	$(PY) course.py lock
