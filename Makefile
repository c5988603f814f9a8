# Thin wrapper for people who like make; course.py is the entry point and needs only Python >= 3.11.
# `make X` runs `python3 course.py X` for each command below.
PY ?= python3
COMMANDS := lab test quick bless setup lock doctor site slides assignments

.PHONY: $(COMMANDS)
$(COMMANDS):
	$(PY) course.py $@
