# The two set-up commands of the README: `make demo` and `make test`.
.PHONY: demo test check bench clean

demo:
	@scripts/bootstrap.sh
	@scripts/demo.sh

# lint (ruff), type (mypy --strict, pyright strict) and tests (pytest), each a tox env.
test:
	@scripts/bootstrap.sh --system-deps
	.venv/bin/tox run -e lint,type,tests

# The same three steps in .venv, without tox (faster while developing).
check:
	@scripts/bootstrap.sh
	.venv/bin/ruff check .
	.venv/bin/mypy
	.venv/bin/pyright
	.venv/bin/pytest

bench:
	@scripts/bootstrap.sh
	.venv/bin/python -m benchmarks

clean:
	rm -rf .venv .tox .mypy_cache .ruff_cache .pytest_cache
