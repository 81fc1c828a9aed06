"""The Redis backend: real BullMQ queues (the ``bullmq`` package's Lua scripts), shared with
Node BullMQ. Rooms as in :mod:`qgen.runtime.backends`; ``keys.py`` is BullMQ's key layout,
``scripts.py`` its Lua scripts and their wire encoding, ``events.py`` the event stream that
``wait`` reads."""

from qgen.runtime.backends.redis.backend import RedisBackend

__all__ = ["RedisBackend"]
