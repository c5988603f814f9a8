# Thin wrapper for people who like make; course.py is the entry point and needs only Python >= 3.11.
PY ?= python3

.PHONY: lab test bless setup lock
lab:
	$(PY) course.py lab
test:
	$(PY) course.py test
bless:
	$(PY) course.py bless
setup:
	$(PY) course.py setup
lock:
	$(PY) course.py lock
