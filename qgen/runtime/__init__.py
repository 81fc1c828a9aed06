"""Run half of qgen: what the generated client and workers import. Must not import qgen.codegen."""
