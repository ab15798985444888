#!/usr/bin/env bash
# Regenerate src/api/schema.d.ts from Reel's OpenAPI document (`reel openapi`), so the console's
# API client is typed from the API itself. Run after changing a route or a schema.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-../../.venv/bin/python}
"$PY" -m reel_host.cli.main openapi > openapi.json
npx openapi-typescript openapi.json --default-non-nullable=false -o src/api/schema.d.ts
