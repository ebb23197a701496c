"""Itemsense: items CRUD and sentiment prediction in one FastAPI service."""

__version__ = "0.1.0"
