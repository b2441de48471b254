"""cnnlib: the layers of a convolutional network, forward and backward, in NumPy.

Every function works on NCHW arrays, float64 by default (float32 is accepted and
kept), never modifies its inputs, and comes as a ``*_forward(...) -> (out, cache)``
/ ``*_backward(dout, cache) -> grads`` pair. The notebooks in ``notebooks/`` derive
each one; docstrings name the notebook and equation.
"""

from ._format import set_printoptions  # noqa: F401  (NumPy prints arrays in the book's number format)
from .activations import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .blocks import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .convmatrix import *  # noqa: F401,F403
from .dense import *  # noqa: F401,F403
from .global_pool import *  # noqa: F401,F403
from .gradcheck import *  # noqa: F401,F403
from .init import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .transposed import *  # noqa: F401,F403
from .upsample import *  # noqa: F401,F403

__version__ = "0.2.0"

from . import autograd  # noqa: E402,F401  (cnnlib.autograd: the engine of notebook 13)
