"""Document-level pooling of token vectors for the relation-type head.

Both layers map ``List[Floats2d]`` (one array of token vectors per doc) to one
``Floats2d`` row per doc. Built from thinc's own layers, so they serialize as usual.
"""
from typing import List, Optional

from spacy.util import registry
from thinc.api import (
    Model,
    ParametricAttention_v2,
    chain,
    concatenate,
    list2ragged,
    reduce_max,
    reduce_mean,
    reduce_sum,
)
from thinc.types import Floats2d


@registry.architectures("nerel.MeanMaxPooling.v1")
def build_mean_max_pooling() -> Model[List[Floats2d], Floats2d]:
    """Concatenate the mean and the max over a doc's tokens (2 × width).

    The max keeps a strong local cue ("женат на" → SPOUSE) that a mean over a long
    news story would wash out; the mean keeps the topic.
    """
    return chain(list2ragged(), concatenate(reduce_mean(), reduce_max()))


@registry.architectures("nerel.AttentionPooling.v1")
def build_attention_pooling(width: Optional[int] = None) -> Model[List[Floats2d], Floats2d]:
    """A learned attention-weighted sum over a doc's tokens (1 × width)."""
    return chain(list2ragged(), ParametricAttention_v2(nO=width), reduce_sum())
