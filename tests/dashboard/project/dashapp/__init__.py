"""The dashboard tests' project: built into a temporary folder by the tests (`qgen build`)."""
