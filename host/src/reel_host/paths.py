"""URL paths every layer shares: the API's version prefix lives here, below the API.

Storage (file URLs), the API's task routes (event-stream URLs), callback messages and
the CLI all build URLs under the prefix; keeping it in one low module means they cannot
drift from the routes, and none of them has to import the API to learn it.
"""

from __future__ import annotations

#: Every route of REST API v1 is under this prefix (DESIGN.md: "All under /api/v1").
API_PREFIX = "/api/v1"
