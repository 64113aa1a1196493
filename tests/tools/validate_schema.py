#!/usr/bin/env python3
"""Validates JSON values (one per stdin line) against one of Hark's proto/ schemas.

Used by the end-to-end tests to check that what the stages really produce matches the
published topic contracts, with a validator that is not Hark's own code.
Usage: validate_schema.py proto/enriched.v1.schema.json < values.ndjson
Exit 0 when every value validates, 1 otherwise (the errors on stderr), 2 on bad usage.
"""
import json
import sys

import jsonschema


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    count, bad = 0, 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        count += 1
        for error in validator.iter_errors(json.loads(line)):
            bad += 1
            path = "/".join(str(p) for p in error.absolute_path)
            print(f"value {number}: at '{path}': {error.message}", file=sys.stderr)
    print(f"{count} values checked, {bad} errors", file=sys.stderr)
    return 1 if bad or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
