"""Offline work on the model: data, evaluation, training, benchmark and packaging.

Needs the dev dependencies for the benchmark; the runtime image leaves this package out.
"""
