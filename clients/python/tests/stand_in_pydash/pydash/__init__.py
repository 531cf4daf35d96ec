"""A stand-in for the few pydash names Debian's azure-ai-ml 1.4.0 imports (Debian does not package
pydash). Only the MLClient test puts it on sys.path; it is not part of the tokex package.
"""

from . import objects
from .objects import get, omit, set_

__all__ = ["get", "objects", "omit", "set_"]
