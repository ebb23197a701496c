"""Sentiment model: training (``train``), loading and prediction (``model``), benchmark."""
