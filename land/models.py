"""The table of the parcels' geometry (land/store.py reads and writes it). Apart from the store so
that the backup and the migrations name the table without loading shapely and pyproj."""

from __future__ import annotations

from sqlalchemy import Float, Text
from sqlmodel import Field, SQLModel


class LandParcelRow(SQLModel, table=True):
    __tablename__ = "land_parcels"
    project_id: str = Field(primary_key=True)
    parcel_id: str = Field(primary_key=True)
    parcel_hash: str = Field(index=True)  # hex, as on chain
    geometry: str = Field(sa_type=Text)  # canonical GeoJSON MultiPolygon in degrees
    area_m2: float = Field(sa_type=Float)
    min_lon: float = Field(sa_type=Float)
    min_lat: float = Field(sa_type=Float)
    max_lon: float = Field(sa_type=Float)
    max_lat: float = Field(sa_type=Float)


TABLES = [LandParcelRow.__table__]  # type: ignore[attr-defined]  # SQLModel sets __table__ on table models
