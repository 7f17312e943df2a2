"""Makes notebooks/conftest.py importable as notebooks.conftest, so it never shadows
tests/conftest.py, which test modules import as `conftest`."""
