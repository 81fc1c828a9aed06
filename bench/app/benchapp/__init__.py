"""The benchmark's job project (see bench/README.md)."""
