"""The rehearsal programme: which teams rehearse what and how often, follow-ups, risks and the evidence an auditor reads."""
