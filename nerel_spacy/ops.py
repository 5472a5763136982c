"""CPU matrix kernels: let thinc's CPU layers multiply through numpy's BLAS.

thinc's ``NumpyOps`` multiplies matrices with blis by default. On the 2-core machines
this project is measured on, blis's ``gemm`` ran at about 36 GFLOP/s against about 185
for numpy's OpenBLAS, and the CNN pipeline spent three quarters of its time there.
``nerel.numpy_blas_ops.v1``, set as ``[nlp.before_creation]``, makes every model the
pipeline creates afterwards (in training and at ``spacy.load``) use
``NumpyOps(use_blis=False)``. It changes nothing on a GPU, and the transformer (PyTorch)
is unaffected either way.
"""
from typing import Callable, Type

from spacy.language import Language
from spacy.util import registry
from thinc.api import NumpyOps, get_current_ops, set_current_ops


def use_numpy_blas() -> bool:
    """Switch thinc's current CPU ops to numpy's BLAS; False (and no change) on a GPU."""
    current = get_current_ops()
    if type(current) is not NumpyOps:  # CupyOps, AppleOps, … know their own kernels
        return False
    if getattr(current, "use_blis", True):
        set_current_ops(NumpyOps(use_blis=False))
    return True


@registry.callbacks("nerel.numpy_blas_ops.v1")
def create_numpy_blas_ops() -> Callable[[Type[Language]], Type[Language]]:
    """A ``[nlp.before_creation]`` callback that calls ``use_numpy_blas``."""

    def before_creation(lang_cls: Type[Language]) -> Type[Language]:
        use_numpy_blas()
        return lang_cls

    return before_creation
