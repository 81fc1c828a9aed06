"""The generated client class of a built project, found through its ``manifest.json``: how
the operator commands reach the queues (through the same client users import)."""

from __future__ import annotations

import importlib
import sys

from qgen.runtime.client import AsyncClientBase
from qgen.runtime.errors import ConfigError
from qgen.runtime.manifest import Manifest


def client_class(manifest: Manifest) -> type[AsyncClientBase]:
    """``<out_package>.client.AsyncQueueClient``. Importing it imports the generated models
    only, never the job functions."""
    root = str(manifest.project_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    module_name = f"{manifest.out_package}.client"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import the generated client {module_name} from {root}: {exc}; run `qgen build`"
        ) from exc
    cls = getattr(module, "AsyncQueueClient", None)
    if not (isinstance(cls, type) and issubclass(cls, AsyncClientBase)):
        raise ConfigError(f"{module_name} has no AsyncQueueClient; run `qgen build` again")
    return cls
