"""Python models: `@warehouse_kit.model` functions in the project's ``models/`` folder.

Each file is imported as its own module; every `Model` it defines at module
level joins the DAG next to the pipeline files' models.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from warehouse_kit.core.errors import ConfigError, first_line
from warehouse_kit.core.models import Model


def load_python_models(files: list[Path]) -> list[Model]:
    found: list[Model] = []
    for path in files:
        module_name = f"warehouse_kit_models.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError("cannot import this file", file=str(path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except ConfigError:
            raise
        except Exception as exc:  # the user's code: report where it broke
            raise ConfigError(
                f"importing failed: {type(exc).__name__}: {first_line(exc)}", file=str(path)
            ) from exc
        found.extend(value for value in vars(module).values() if isinstance(value, Model))
    return found
