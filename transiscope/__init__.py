"""Transiscope semantic bus: the core package.

It holds all the logic (extract, normalise, validate, RDF, load, query) and never imports Airflow,
so that the CLI, the DAGs and the tests run the very same code.
"""

__version__ = "0.1.0"
