"""Knowledge distillation: a shallower student trained on a joint pipeline's soft outputs.

``soft_targets`` stores and mixes the teacher's outputs, ``teacher`` computes them for a
corpus (and labels unlabeled texts), ``student`` cuts the teacher's encoder down to a few
of its layers, and ``run`` ties them to ``spacy train`` (``nerel-batch distill``).
"""
