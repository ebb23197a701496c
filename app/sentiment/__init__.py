"""Sentiment prediction, in four parts.

- Serving: ``router.py`` (HTTP), ``schemas.py`` (bodies), ``model.py`` (load, verify,
  choose the scorer, predict).
- ``recipe/``: what a trained artifact pickles (text steps, lexicon, transformers, pipeline).
- ``scorer.py``: the fast scorer, the pipeline's probabilities without scikit-learn.
- ``training/``: offline work (data, evaluation, training, benchmark, packaging); not in the
  runtime image.
"""
