"""The AWS SQS backend (boto3): long polling, batched receives and acknowledgements, visibility
heartbeats, redrive to dead-letter queues. Rooms as in :mod:`qgen.runtime.backends`;
``provision.py`` creates the queues with their redrive policies, ``lambda_events.py`` runs the
records of a Lambda SQS event."""

from qgen.runtime.backends.sqs.backend import SqsBackend

__all__ = ["SqsBackend"]
