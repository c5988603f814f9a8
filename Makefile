# Thin wrapper for people who like make; course.py is the entry point and needs only Python >= 3.11.
PY ?= python3

.PHONY: lab test quick bless setup lock doctor site slides assignments
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
doctor:
	$(PY) course.py doctor
site:
	$(PY) course.py site
slides:
	$(PY) course.py slides
assignments:
	$(PY) course.py assignments
