"""Project parcels as land (项目地块合格性、唯一性): GeoJSON parcels validated and measured on the
ellipsoid, a canonical form whose hash goes on chain, the overlap check against every live
project's parcels, their storage and SVG maps. docs/land.md has the rules and their sources."""
