"""Celery: the app, queue names and how tasks are sent."""
