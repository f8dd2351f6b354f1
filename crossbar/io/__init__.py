"""Models in and out: checkpoints (format 2: arrays and a fingerprint of their paths, shapes and
dtypes), NIR export and import, and atomic writes (a file is replaced whole or not at all).
"""

from ._atomic import atomic_write_bytes as atomic_write_bytes
from ._atomic import atomic_write_json as atomic_write_json
from ._checkpoint import checkpoint_meta as checkpoint_meta
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._nir import export_nir as export_nir
from ._nir import import_nir as import_nir
