"""Build half of qgen: scan (libcst) -> ir -> schema -> render -> output.

Never imported by the runtime.
"""
