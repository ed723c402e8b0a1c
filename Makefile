# Two commands for a new user: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
DEMO_DIR := demo_images

TRAIN_DIR := build/train

.PHONY: demo test test-fast install bench quality train photographs clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The Spark engine's extra (pyspark, dbt-spark): `make test` installs it, `make demo` does not need it.
$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,spark]'
	touch $(SPARK_STAMP)

## demo: set up, make labelled demo photos, extract and score them into warehouse.duckdb (the default database
## of the CLI and dbt), print the result (counts, accuracy against the demo's labels, next commands) and write
## report/index.html. dbt's own log goes to logs/dbt.log.
demo: $(STAMP)
	@rm -rf $(DEMO_DIR)
	@$(BIN)/image-quality demo $(DEMO_DIR)

## test: the whole suite (fast, slow and Spark tests; Spark runs on local[2] and needs Java 17+)
test: $(STAMP) $(SPARK_STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not spark"

## photographs: the Debian packages whose photographs extract/image_quality/lab/photographs.py catalogues
## (for make train and make quality only; make test never needs them). Installs only what is missing;
## PHOTOGRAPHS=skip does without them.
PHOTO_PACKAGES := lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds \
                  plasma-workspace-wallpapers python-matplotlib-data
PHOTOGRAPHS ?= install
photographs:
	@[ "$(PHOTOGRAPHS)" = skip ] && exit 0; \
	missing=$$(for p in $(PHOTO_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing photographs from Debian packages: $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing \
	  || { echo "photographs: could not install $$missing (needs root or sudo and Debian's apt; PHOTOGRAPHS=skip uses only the shipped ones)"; exit 1; }; \
	fi

## train: rebuild the shipped model (seed, golden set, model card) bit for bit. It is fitted on the real
## development set (REALDEV: $$IMAGE_QUALITY_REALDEV, else ../shared/realdev; kept outside the repository),
## which scores real photographs best (lab/training.py, FIT_ON_GENERATED_IMAGES). A machine without it fits
## on the training generator's images instead, and says so: another model, another model_version.
REALDEV ?= $(or $(IMAGE_QUALITY_REALDEV),$(wildcard ../shared/realdev))
TRAIN_SET = $(if $(REALDEV),$(REALDEV),$(TRAIN_DIR)/images)
train: $(STAMP) photographs
	rm -rf $(TRAIN_DIR) && mkdir -p $(TRAIN_DIR)
	@[ -n "$(REALDEV)" ] || echo "train: no real set on this machine: fitting on the training generator's images"
	[ -n "$(REALDEV)" ] || $(BIN)/image-quality demo-data $(TRAIN_DIR)/images --n 600 --seed 0 --photographs installed
	$(BIN)/image-quality extract $(TRAIN_SET) --db $(TRAIN_DIR)/train.duckdb --quiet
	$(BIN)/image-quality train --labels $(TRAIN_SET)/labels.csv --db $(TRAIN_DIR)/train.duckdb
	$(BIN)/python bench/quality_eval.py --skip-generated --work $(TRAIN_DIR)/quality --model-card docs/quality_model.md

## quality: the quality model's figures: on the real development set leave-one-source-out (when this machine
## has it; it says so when not), leave-one-photo-out on the generator, the shipped model through dbt on a new
## generated set and on the validation generator's set (accuracy per class and size band)
quality: $(STAMP) photographs
	$(BIN)/python bench/quality_eval.py

## bench: the benchmarks side by side (not part of the tests); CleanVision comes with the bench extra;
## then the Spark engine's driver memory as the files listed grow 1,000 -> 100,000 (bench/spark_scale.py)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench,spark]'
	$(BIN)/python bench/run_bench.py
	$(BIN)/python bench/spark_scale.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) report build target logs .pytest_cache
