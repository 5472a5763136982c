"""The joint component's labels and relation-type thresholds (a mixin of ``NerelJoint``).

Entity and relation types live in ``cfg`` (set by ``initialize``, saved with the
pipeline); the BIO tag inventory is derived from the entity types. A relation type's
threshold is its tuned one where ``tune-thresholds`` stored one, else ``threshold``.
"""
from typing import Dict, List, Sequence, Tuple

from thinc.api import Model

from ..bio import make_bio_labels


class LabelsAndThresholds:
    """Label inventories and cats thresholds read from ``self.cfg``."""

    cfg: Dict[str, object]

    @property
    def labels(self) -> Tuple[str, ...]:
        """Entity types then relation types (``spacy init labels`` stores both)."""
        return tuple(self.cfg["entity_labels"]) + tuple(self.cfg["cats_labels"])

    @property
    def entity_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["entity_labels"])

    @property
    def cats_labels(self) -> Tuple[str, ...]:
        return tuple(self.cfg["cats_labels"])

    @property
    def tag_labels(self) -> List[str]:
        return make_bio_labels(self.cfg["entity_labels"])

    @property
    def label_data(self) -> Dict[str, List[str]]:
        return {"entity_labels": list(self.entity_labels), "cats_labels": list(self.cats_labels)}

    @property
    def cats_thresholds(self) -> Dict[str, float]:
        """The threshold for each relation type: tuned per label where tuned, else ``threshold``."""
        tuned = self.cfg.get("thresholds") or {}
        return {label: float(tuned.get(label, self.cfg["threshold"])) for label in self.cats_labels}

    def set_thresholds(self, thresholds: Dict[str, float]) -> None:
        """Store per-label thresholds (e.g. tuned on dev); they are saved with the pipeline."""
        unknown = set(thresholds) - set(self.cats_labels)
        if unknown:
            raise ValueError(f"nerel_joint: unknown relation types in thresholds: {sorted(unknown)}")
        outside = {label: value for label, value in thresholds.items() if not 0.0 <= float(value) <= 1.0}
        if outside:
            raise ValueError(f"nerel_joint: thresholds are probabilities, from 0 to 1: {outside}")
        self.cfg["thresholds"] = {label: float(value) for label, value in thresholds.items()}

    def add_label(self, label: str) -> int:
        raise NotImplementedError(
            "nerel_joint takes its entity and relation types from the training data in "
            "initialize(), or from [initialize.components.nerel_joint.labels]."
        )


def size_heads(model: Model, tasks: Sequence[str], *, n_tags: int, n_entity_labels: int, n_cats: int) -> None:
    """Set the output widths of the joint model's heads from the label inventories."""
    model.set_dim("nO_tags", n_tags, force=True)
    model.set_dim("nO_cats", max(1, n_cats), force=True)
    if "spans" in tasks:
        model.set_dim("nO_spans", 1 + n_entity_labels, force=True)
    if "relations" in tasks:
        model.set_dim("nO_relations", max(1, n_cats), force=True)
        model.set_dim("n_entity_types", max(1, n_entity_labels), force=True)
