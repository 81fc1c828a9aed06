"""The contract suite's test app: job functions, middleware, services and wiring.

Written exactly as a user would write a qgen project; the suite imports it in-process and worker
subprocesses import it through ``python -m qgen.runtime.worker --wiring contract_app.wiring``.
"""
