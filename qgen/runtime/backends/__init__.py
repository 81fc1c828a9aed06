"""Backends: one package per URL scheme, each implementing :class:`base.Backend`.

Every backend package has the same rooms, so a reader who knows one knows where to look in the
others:

- ``backend.py``   the Backend: connect, provision, enqueue, get, wait, consume (the client API);
- ``url.py``       its URL: parsing and validation into a frozen target;
- ``transport.py`` talking to the server: connections, reconnects, sending commands or calls;
- ``jobs.py``      a qgen job in the backend's own form, both ways (new, leased, read back);
- ``outcomes.py``  how each outcome (completed, retry, failed, discarded, given back) is stored;
- ``consumer.py``  the native half of the consumer: fetch, record outcomes, renew, recover.

Beside them, only what that backend really needs: ``sql.py`` (SQLite, PostgreSQL), ``keys.py``,
``scripts.py`` and ``events.py`` (Redis: key layout, BullMQ's Lua scripts, the event stream),
``migrations.py`` and ``notify.py`` (PostgreSQL: schema versions, LISTEN/NOTIFY),
``provision.py`` and ``lambda_events.py`` (SQS: queues with redrive, Lambda event records).

Shared by all: ``base.py`` (the protocol and the values that cross it), ``skeleton.py`` (the one
consumer skeleton: slots, loops, heartbeats, the drain, giving back) with ``lanes.py`` (jobs and
per-queue lanes) and ``native.py`` (what each ``consumer.py`` implements), and ``registry.py``
(URL -> backend, the only way the client, the worker and the CLI reach a backend). Backends
never import each other, the worker, the CLI or codegen (import-linter contracts in
pyproject.toml).
"""
