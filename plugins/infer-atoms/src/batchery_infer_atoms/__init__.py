"""The infer-atoms graph node."""
