"""The command line's flags, one module per concern, so `--helpfull` lists them in those groups.

Each module only defines flags (with their defaults from `Config`); `cgan_tf/main.py` imports them all
and is the one place that reads their values.
"""

from cgan_tf.flags import data  # noqa: F401
from cgan_tf.flags import distribution  # noqa: F401
from cgan_tf.flags import evaluation  # noqa: F401
from cgan_tf.flags import export  # noqa: F401
from cgan_tf.flags import networks  # noqa: F401
from cgan_tf.flags import outputs  # noqa: F401
from cgan_tf.flags import training  # noqa: F401
