.PHONY: run test bench

run:
	scripts/run.sh

test:
	scripts/test.sh

bench:
	.venv/bin/python scripts/bench.py
