# One virtual environment, made on first use; every target below sets it up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Extra snakemake arguments, e.g. ARGS="--configfile config/offline-mirror.yaml"
ARGS ?=

.PHONY: setup study test lint mirror reproduction confirmatory sensitivity lecture-cell bench gpu-check-bundle

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# Snakemake's default workflow profile (profiles/default) sets --cores all --resources gpu=1.
study: setup
	$(BIN)/snakemake $(ARGS)

# A test file per worker (--dist loadfile keeps a file's shared fixtures, such as the Slurm cluster or the
# tiny study, in one process), in the order collected (tests/conftest.py puts the longest first); two
# workers on 2 cores, since most tests wait on a single thread.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# What tests/test_style.py checks, at once.
lint: setup
	$(BIN)/ruff check src tests workflow benchmarks
	$(BIN)/ruff format --check src tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow
	$(BIN)/snakemake --lint

# Real data without internet, for config/offline-mirror.yaml, a folder per dataset: Fashion-MNIST
# from Debian's dataset-fashion-mnist, CIFAR-10 rebuilt from ../shared/datasets.
MIRROR_DIR ?= mirror
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist
CIFAR10_BUILDER ?= ../shared/datasets/make_cifar10_mirror.py
mirror: setup
	mkdir -p $(MIRROR_DIR)/fashion_mnist $(MIRROR_DIR)/cifar10
	cp $(FASHION_MNIST_DIR)/*-ubyte.gz $(MIRROR_DIR)/fashion_mnist/
	$(BIN)/python $(CIFAR10_BUILDER) $(MIRROR_DIR)/cifar10 --format binary $(MIRROR_ARGS)

# The published real-data run (docs/reproduction/): the quick profile on the offline mirror, in its
# looks; then its report, tables and README are copied there. Its three stages are trained apart, each
# timed: the lecture's own cell (make lecture-cell), the sensitivity map (make sensitivity) and the
# confirmatory study (make confirmatory); make reproduction then trains whatever is left, timed too, and
# publishes. All three read the same configs, so one protocol, frozen by the first of them to train, holds
# for every run. Its stability check (config/stability.yaml) is left out: with it, the most the study can
# take would no longer fit 90 minutes on 2 cores.
REPRODUCTION_CONFIGS := config/offline-mirror.yaml config/quick.yaml config/sensitivity.yaml config/lecture-cell.yaml
# Stages trained in an earlier session on a machine that kept no results folder, taken from the published
# facts instead of trained again: RESTORE=config/restore-published.yaml (the map and the lecture's cell).
RESTORE ?=
STUDY_CONFIGS := $(REPRODUCTION_CONFIGS) $(RESTORE)
reproduction: mirror
	start=$$(date +%s) && $(BIN)/snakemake --configfile $(STUDY_CONFIGS) && \
	$(BIN)/python -m study.reporting.publish --command "make reproduction$(if $(RESTORE), RESTORE=$(RESTORE))" --configfile $(STUDY_CONFIGS) \
		--wall-seconds $$(( $$(date +%s) - start ))

# The confirmatory study alone (its looks' training jobs and its claims), timed into
# results/confirmatory-wall-seconds: the stage the 90-minute budget is for.
confirmatory: mirror
	start=$$(date +%s) && $(BIN)/snakemake results/tables/claims.csv --configfile $(STUDY_CONFIGS) && \
	echo $$(( $$(date +%s) - start )) > results/confirmatory-wall-seconds

# The sensitivity map alone (its cells' training jobs and its tables), timed into
# results/sensitivity-wall-seconds.
sensitivity: mirror
	start=$$(date +%s) && $(BIN)/snakemake results/tables/sensitivity.csv --configfile $(STUDY_CONFIGS) && \
	echo $$(( $$(date +%s) - start )) > results/sensitivity-wall-seconds

# The lecture's own cell alone (config/lecture-cell.yaml), timed into results/lecture-cell-wall-seconds.
lecture-cell: mirror
	start=$$(date +%s) && $(BIN)/snakemake results/tables/lecture_cell.csv --configfile $(STUDY_CONFIGS) && \
	echo $$(( $$(date +%s) - start )) > results/lecture-cell-wall-seconds

# Training throughput and memory against the lecture's way (a few minutes on 2 cores).
bench: setup
	$(BIN)/python -m study.training.bench.throughput --out results/bench

# What benchmarks/gpu_check.sh needs on the GPU test machine, which has JAX but no
# TensorFlow and no package index: cp312 wheels of what it lacks (Keras without the
# numpy and h5py it has; Snakemake with its dependencies, one of which, connection_pool,
# is published only as source), and the CIFAR-10 JPEG archive with its builder.
# Carry .gpu_check with the working tree (about 50 MB).
CP312 := --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 \
	--platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 --platform any
gpu-check-bundle: setup
	mkdir -p .gpu_check/wheels
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: $(CP312) -d .gpu_check/wheels keras==3.15.1 namex optree
	$(BIN)/pip wheel --quiet --no-deps connection_pool==0.0.3 -w .gpu_check/wheels
	$(BIN)/pip download --quiet --only-binary=:all: $(CP312) --find-links .gpu_check/wheels \
		-d .gpu_check/wheels snakemake==9.27.1
	cp ../shared/datasets/cifar-10-jpeg.tar.gz ../shared/datasets/make_cifar10_mirror.py .gpu_check/
