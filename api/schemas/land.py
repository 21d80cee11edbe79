"""A project's parcels as GeoJSON (land/; the canonical form and the hash are in docs/land.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MultiPolygonPublic(BaseModel):
    """The canonical geometry: longitude, latitude in degrees, 7 decimals, exterior rings
    counter-clockwise, holes clockwise, each ring from its smallest vertex."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["MultiPolygon"]
    coordinates: list[list[list[list[float]]]]


class ParcelPropertiesPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parcel_id: str
    parcel_hash: str = Field(description="sha256 of the canonical JSON {id, geometry}: the hash on chain")
    area_m2: float = Field(description="geodesic area on the WGS 84 ellipsoid, m²")


class ParcelFeaturePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Feature"] = "Feature"
    id: str
    properties: ParcelPropertiesPublic
    geometry: MultiPolygonPublic


class ProjectParcelsPublic(BaseModel):
    """GET /projects/{project_id}/parcels: a GeoJSON FeatureCollection (RFC 7946, WGS 84 / CGCS2000)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["FeatureCollection"] = "FeatureCollection"
    project_id: str
    features: list[ParcelFeaturePublic]
