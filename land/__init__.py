"""Project parcels as geometry (项目地块合格性、唯一性): docs/land.md."""
