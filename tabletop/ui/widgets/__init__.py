"""Widgets the console screens are built from."""
