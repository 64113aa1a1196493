#!/usr/bin/env bash
# Checks Hark's Prometheus rules and Grafana dashboard with Debian's prometheus package:
#   1. promtool check rules hark.rules.yml
#   2. promtool test rules hark.rules.test.yml (each alert fires when it should, and only then)
#   3. with a hark binary: tests/tools/prometheus_check.py starts that hark and a real Prometheus
#      scraping it, lints /metrics with promtool check metrics, and runs every dashboard query.
# Usage: deploy/prometheus/check.sh [HARK_BINARY]   (step 3 needs the broker and Redis of
# deploy/local.sh start, and HARK__KAFKA__BROKERS / HARK__REDIS__URL when not the defaults)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROMTOOL="${HARK_PROMTOOL:-/usr/bin/promtool}"

[ -x "$PROMTOOL" ] || { echo "check.sh: $PROMTOOL missing (apt-get install prometheus)" >&2; exit 2; }
"$PROMTOOL" check rules "$HERE/hark.rules.yml"
# promtool resolves rule_files against the test file's directory.
"$PROMTOOL" test rules "$HERE/hark.rules.test.yml"
if [ "$#" -gt 0 ]; then
    # The venv's Python (HARK_PYTHON) can also delete the run's topics afterwards.
    "${HARK_PYTHON:-python3}" "$REPO/tests/tools/prometheus_check.py" "$1"
fi
