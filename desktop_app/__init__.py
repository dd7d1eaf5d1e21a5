"""Lookaloud: an offline screen-reader companion that describes pictures and answers questions."""

__version__ = "0.1.0"
