"""The app of the hostile-input suite (issue 10): a few queues whose jobs record what they saw,
and return the results a test asks for, good or hostile."""
