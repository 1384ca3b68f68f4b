"""The verify graph node."""
