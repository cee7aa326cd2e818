"""agnoctl's version, defined once: the package metadata (pyproject reads it through hatch),
``agnoctl --version``, report.html, the webhooks' User-Agent and the traces' resource.

A module of its own, below every layer, so a report or a webhook can name the version without
importing the package's public API (``agnoctl/__init__.py``), which sits above them all.
"""

__version__ = "0.1.0"
