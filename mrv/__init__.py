"""Measurement and monitoring (计量监测): methodology versions as code plus cited parameter sets,
monitoring reports, and the recomputation of how many kilograms a batch may issue."""
