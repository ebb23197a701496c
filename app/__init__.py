"""Itemsense: items CRUD and sentiment prediction in one FastAPI service."""

from pathlib import Path

__version__ = "0.1.0"

# The folder that holds the `app` package: a checkout's root, or WORKDIR in the image.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
