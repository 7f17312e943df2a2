"""A project's experiments: every file in ``analytics/experiments/``, and one found by key.

`load_experiments` loads them all and refuses two with the same key;
`find_experiment` takes a key (or the path of a file) and, for a key it does
not know, names the folder, the nearest key and the keys there are.
"""

from __future__ import annotations

from pathlib import Path

from warehouse_kit.analytics.experiments.spec import Experiment, load_experiment
from warehouse_kit.core.errors import ConfigError, did_you_mean
from warehouse_kit.core.project import Project

FOLDER = Path("analytics") / "experiments"
"""Where a project's experiment files are."""


def experiment_files(project: Project) -> list[Path]:
    folder = project.root / FOLDER
    return sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]) if folder.is_dir() else []


def load_experiments(project: Project | str | Path = ".") -> dict[str, Experiment]:
    """Every experiment of the project (``analytics/experiments/*.yml``), by key."""
    project = Project.of(project)
    found: dict[str, Experiment] = {}
    for path in experiment_files(project):
        experiment = load_experiment(path, display=project.display(path))
        if experiment.key in found:
            raise ConfigError(
                f"key {experiment.key!r} is also the key of {found[experiment.key].file}",
                file=experiment.file,
                key_path="experiment.key",
            )
        found[experiment.key] = experiment
    return found


def find_experiment(key: str, project: Project | str | Path = ".") -> Experiment:
    """The experiment with this key, or in this file."""
    project = Project.of(project)
    path = Path(key)
    if path.suffix in (".yml", ".yaml"):
        return load_experiment(path, display=project.display(path))
    experiments = load_experiments(project)
    if key not in experiments:
        known = ", ".join(experiments) or "none"
        folder = project.display(project.root / FOLDER)
        raise ConfigError(
            f"no experiment {key!r} in {folder}{did_you_mean(key, experiments)}; "
            f"experiments: {known}"
        )
    return experiments[key]
