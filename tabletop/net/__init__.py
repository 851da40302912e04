"""Team rehearsals across machines: the WebSocket host that owns the session, and the player side."""
