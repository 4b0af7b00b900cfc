"""Consentry: a consent-first gate between a social platform's user content and AI training."""

__version__ = "0.1.0"
