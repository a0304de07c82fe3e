.PHONY: setup run test lint format bench bench-quick migrate seed

export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

setup:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

## Everything on embedded defaults (SQLite, filesystem broker): web on :8000, sandboxes on :8001,
## a Celery worker and beat. One Ctrl-C stops all.
run: setup
	@$(UV) run python manage.py migrate --noinput -v0
	@$(UV) run python manage.py rundemo

## The whole suite against PostgreSQL, Redis, the sandboxes over HTTP and headless Chromium.
test:
	@bash .ci/prepare
	@$(UV) run python manage.py makemigrations --check --dry-run --settings=config.settings.test >/dev/null
	@$(UV) run pytest

## ruff, the import contracts (pyproject.toml [tool.importlinter]) and mypy on the pure modules.
lint: setup
	@$(UV) run ruff check .
	@$(UV) run ruff format --check .
	@$(UV) run lint-imports --no-cache
	@$(UV) run mypy

format: setup
	@$(UV) run ruff format .
	@$(UV) run ruff check --fix .

## BENCHMARKS.md: make bench at 1,000,000 orders and refunds (under 30 minutes), make bench-quick at
## 100,000 (under 10). Each full run keeps its figures in tests/benchmarks/results-<scale>.json.
bench:
	@bash .ci/prepare
	@BENCH_SCALE=1000000 $(UV) run python -m tests.benchmarks.run

bench-quick:
	@bash .ci/prepare
	@BENCH_SCALE=100000 $(UV) run python -m tests.benchmarks.run

## The README's screenshots (docs/screenshots/*.png, 1366x768 and 390x844) from seeded demo data
## in headless Chromium. tests/screenshots.py is not collected by the suite; it runs only here.
.PHONY: screenshots
screenshots:
	@bash .ci/prepare
	@$(UV) run python -m pytest tests/screenshots.py -p no:randomly -q
