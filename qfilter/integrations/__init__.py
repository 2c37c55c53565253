"""What sits on top of the compilers: listing helpers, FastAPI, Hypothesis strategies.

Each module is imported on its own (``from qfilter.integrations.fastapi import
QFilter``), so that using one never loads the others' dependencies.
"""
