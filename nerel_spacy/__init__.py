"""nerel-spacy: joint Russian NER and relation-type classification on NEREL."""

__version__ = "0.1.0"
