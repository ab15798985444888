"""The web console: a single-page app built from ``host/console`` into ``static/`` (see docs/console.md)."""
