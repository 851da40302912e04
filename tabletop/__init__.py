"""tabletop: a tabletop-exercise simulator for incident-management rehearsals."""

__version__ = "0.1.0"
