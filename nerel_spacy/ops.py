"""CPU matrix kernels: let thinc's CPU layers multiply through numpy's BLAS.

thinc's ``NumpyOps`` multiplies matrices with blis by default. On the 2-core machines
this project is measured on, blis's ``gemm`` ran at about 36 GFLOP/s against about 185
for numpy's OpenBLAS, and the CNN pipeline spent three quarters of its time there.

``nerel.numpy_blas_ops.v2``, set as ``[nlp.after_pipeline_creation]``, gives the models of
this pipeline's components ``NumpyOps(use_blis=False)``, in training and at ``spacy.load``.
It changes nothing else in the process: another pipeline loaded beside it keeps its own
kernels (and so its own predictions, to the last bit). On a GPU, and for the transformer
(PyTorch), it changes nothing.

``nerel.numpy_blas_ops.v1`` (``[nlp.before_creation]``) switched thinc's *current* ops for
the whole process instead, so every model created afterwards, in any pipeline, used them.
It stays registered so that pipelines saved with it keep loading.
"""
from typing import Callable, Optional, Sequence, Type, Union

from spacy.language import Language
from spacy.util import registry
from thinc.api import Model, NumpyOps, get_current_ops, set_current_ops


def use_numpy_blas_in(nlp: Language) -> int:
    """Give every thinc model node of ``nlp``'s components that runs on blis's ``NumpyOps``
    one shared ``NumpyOps(use_blis=False)``; the number of nodes switched (0 on a GPU)."""
    fast = NumpyOps(use_blis=False)
    models = [getattr(component, "model", None) for _, component in nlp.components]
    return use_numpy_blas_on([model for model in models if isinstance(model, Model)], fast)


def use_numpy_blas_on(models: Union[Model, Sequence[Model]], fast: Optional[NumpyOps] = None) -> int:
    """As ``use_numpy_blas_in``, for one model or a list of models that are not (yet) part
    of a pipeline, such as a relation head trained on its own; thinc's current ops, and so
    every other model in the process, keep their kernels."""
    fast = fast or NumpyOps(use_blis=False)
    seen, switched = set(), 0
    for model in [models] if isinstance(models, Model) else models:
        for node in model.walk():
            if id(node) in seen:
                continue
            seen.add(id(node))
            # CupyOps, AppleOps, … know their own kernels; only blis's NumpyOps is replaced
            if type(node.ops) is NumpyOps and getattr(node.ops, "use_blis", True):
                node.ops = fast
                switched += 1
    return switched


@registry.callbacks("nerel.numpy_blas_ops.v2")
def create_pipeline_numpy_blas_ops() -> Callable[[Language], Language]:
    """An ``[nlp.after_pipeline_creation]`` callback that calls ``use_numpy_blas_in``."""

    def after_pipeline_creation(nlp: Language) -> Language:
        use_numpy_blas_in(nlp)
        return nlp

    return after_pipeline_creation


def use_numpy_blas() -> bool:
    """Switch thinc's current CPU ops, for the whole process, to numpy's BLAS (v1); False
    (and no change) on a GPU."""
    current = get_current_ops()
    if type(current) is not NumpyOps:
        return False
    if getattr(current, "use_blis", True):
        set_current_ops(NumpyOps(use_blis=False))
    return True


@registry.callbacks("nerel.numpy_blas_ops.v1")
def create_numpy_blas_ops() -> Callable[[Type[Language]], Type[Language]]:
    """A ``[nlp.before_creation]`` callback that calls ``use_numpy_blas`` (process-wide; kept
    for pipelines saved with it, use v2)."""

    def before_creation(lang_cls: Type[Language]) -> Type[Language]:
        use_numpy_blas()
        return lang_cls

    return before_creation
