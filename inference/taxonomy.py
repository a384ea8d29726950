"""The label contract (shared/TAXONOMY.md) as data: ids, names, CAMEO and PLOVER codes.

Example:
    >>> TAXONOMY.version
    '1.1'
    >>> TAXONOMY.label("arms_deal").cameo[0]
    '062'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files

# The three event types the project was asked for; reports show them on their own line.
REQUESTED_LABELS = ("state_visit", "arms_deal", "sanctions_appeal")


@dataclass(frozen=True)
class Label:
    """One event type of the taxonomy."""

    id: str
    name: str
    cameo: tuple[str, ...]
    plover: str


@dataclass(frozen=True)
class Taxonomy:
    """The ordered label set with its version string."""

    version: str
    labels: tuple[Label, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(label.id for label in self.labels)

    def label(self, label_id: str) -> Label:
        """Return the label with this id; ``KeyError`` names the known ids otherwise."""
        for label in self.labels:
            if label.id == label_id:
                return label
        raise KeyError(f"unknown label id {label_id!r}; known: {', '.join(self.ids)}")


def _load() -> Taxonomy:
    raw = json.loads(files("inference").joinpath("taxonomy.json").read_text(encoding="utf-8"))
    labels = tuple(
        Label(id=item["id"], name=item["name"], cameo=tuple(item["cameo"]), plover=item["plover"])
        for item in raw["labels"]
    )
    return Taxonomy(version=raw["version"], labels=labels)


TAXONOMY = _load()
