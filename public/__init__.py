"""The public registry (公示): docs/public-registry.md."""
