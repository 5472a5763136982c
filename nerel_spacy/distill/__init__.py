"""Knowledge distillation: a shallower student trained on a joint pipeline's soft outputs.

``teacher`` computes the teacher's outputs for a corpus (and labels unlabeled texts),
``teacher_pass`` keeps them in shards that a killed run continues from, ``student`` cuts the
teacher's encoder down to a few of its layers, and ``run`` ties them to ``spacy train``
(``nerel-batch distill``).
How the outputs are stored beside each doc and mixed into the student's targets is
``nerel_spacy.soft_targets``, the contract the teacher pass and the joint component's
objective (``pipeline.objective``) share.
"""
