"""The nerel_joint component; importing this package registers its factory."""
from .factory import make_nerel_joint  # noqa: F401
from .joint import NerelJoint  # noqa: F401
