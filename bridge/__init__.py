"""Regional interconnection (区域联建): docs/bridge.md."""
