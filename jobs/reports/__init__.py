"""What a run leaves to read: the summary by territory and by user, and the JSONL diff log."""
