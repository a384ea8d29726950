# The two README commands (`make main`, `make test`) both start by building the virtual
# environment, so a fresh clone needs nothing but python3.11 and make.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SEED := seeds/000_eabc39c2cad07c40.txt
CONFIG ?= configs/default.yaml
MODEL ?= models:/diplomatic-events@candidate

.PHONY: main test train classify-seed lint mlflow-ui clean

$(STAMP): pyproject.toml
	python3.11 -m venv $(VENV)
	# torch first and pinned: the CPU build on local disk, never the multi-GB CUDA one.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## main: train the default config, register it in MLflow, and classify the seed article.
main: train classify-seed

train: $(STAMP)
	$(PY) -m training.train --config $(CONFIG)

classify-seed: $(STAMP)
	$(PY) -m inference --model $(MODEL) --documents --format text $(SEED)

## test: the whole test suite (slow tests included; they fit CI's time).
test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check inference training tests benchmarks

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db --port 5000

clean:
	rm -rf $(VENV) mlflow.db mlruns artifacts .cache build
