"""The shop's job functions: plain functions, directly callable, wired to queues in shop.queues."""
