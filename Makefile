# The two README commands (`make main`, `make test`) both start by building the virtual
# environment, so a fresh clone needs nothing but python3.11 and make.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEED := seeds/000_eabc39c2cad07c40.txt
CONFIG ?= configs/default.yaml
MODEL ?= models:/diplomatic-events@candidate
SERVE_MODEL ?= models:/diplomatic-events@champion
PORT ?= 5001

.PHONY: main test train promote classify-seed serve lint mlflow-ui clean

$(STAMP): pyproject.toml
	python3.11 -m venv $(VENV)
	# torch first and pinned: the CPU build on local disk, never the multi-GB CUDA one.
	$(PY) -m pip install --quiet torch==2.13.0
	# The spark extra too: the test command runs the Spark tests (Java comes from .ci/run).
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	touch $(STAMP)

## main: train the default config, register it in MLflow, promote it to @champion when it is
## at least as good as the current one (the first model always is), and classify the seed article.
main: train promote classify-seed

train: $(STAMP)
	$(PY) -m training.train --config $(CONFIG)

# A refusal (the new model is worse than the champion) is an answer, not a failure of `make main`.
promote: $(STAMP)
	-$(PY) -m training.promote

classify-seed: $(STAMP)
	$(PY) -m inference --model $(MODEL) --documents --format text $(SEED)

## test: the whole test suite (slow tests included; they fit CI's time).
test: $(STAMP)
	$(PY) -m pytest

## serve: the registered @champion over HTTP (POST /invocations). MLflow starts `uvicorn` from
## PATH, so the virtual environment's bin folder goes first on it.
serve: $(STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-sqlite:///$(CURDIR)/mlflow.db}" \
	  exec $(VENV)/bin/mlflow models serve -m $(SERVE_MODEL) --env-manager local --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(VENV)/bin/ruff check inference training tests benchmarks

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

clean:
	rm -rf $(VENV) mlflow.db mlruns artifacts .cache build
