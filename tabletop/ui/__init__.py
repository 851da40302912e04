"""The rehearsal console: Textual screens for players, facilitators, solo practice and the debrief."""
