"""Reviewing many scored transcripts without a UI: the on-disk index, comparisons and trends."""
