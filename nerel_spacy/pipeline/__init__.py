"""The nerel_joint component; importing this package registers its factory."""
from .joint import NerelJoint, make_nerel_joint  # noqa: F401
