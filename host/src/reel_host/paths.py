"""URL paths every layer agrees on (the API mounts them, storage and the CLI build links to them)."""

API_PREFIX = "/api/v1"
