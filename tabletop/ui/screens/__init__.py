"""The console's screens: lobby, player, facilitator, debrief and the dialogs they open."""
