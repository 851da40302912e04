"""The review console for managers: browse, open, compare and follow scored transcripts."""
