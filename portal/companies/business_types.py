"""The 13 CTPAT business entity types and their sub-designations (domain reference §1.1)."""

from __future__ import annotations

from enum import StrEnum


class BusinessType(StrEnum):
    """A CTPAT business entity type; one CTPAT account exists per company and type."""

    IMPORTER = "importer"
    EXPORTER = "exporter"
    CUSTOMS_BROKER = "customs_broker"
    CONSOLIDATOR = "consolidator"
    HIGHWAY_CARRIER = "highway_carrier"
    MEXICAN_LONG_HAUL = "mexican_long_haul"
    RAIL_CARRIER = "rail_carrier"
    SEA_CARRIER = "sea_carrier"
    AIR_CARRIER = "air_carrier"
    US_MPTO = "us_mpto"
    FOREIGN_MPTO = "foreign_mpto"
    FOREIGN_MANUFACTURER = "foreign_manufacturer"
    THIRD_PARTY_LOGISTICS = "third_party_logistics"

    @property
    def label(self) -> str:
        return BUSINESS_TYPE_LABELS[self]


BUSINESS_TYPE_LABELS: dict[BusinessType, str] = {
    BusinessType.IMPORTER: "Importer",
    BusinessType.EXPORTER: "Exporter",
    BusinessType.CUSTOMS_BROKER: "Licensed U.S. Customs Broker",
    BusinessType.CONSOLIDATOR: "Consolidator (air freight, OTI, NVOCC)",
    BusinessType.HIGHWAY_CARRIER: "Highway Carrier (U.S./Canada or U.S./Mexico)",
    BusinessType.MEXICAN_LONG_HAUL: "Mexican Long Haul Highway Carrier",
    BusinessType.RAIL_CARRIER: "Rail Carrier",
    BusinessType.SEA_CARRIER: "Sea Carrier",
    BusinessType.AIR_CARRIER: "Air Carrier",
    BusinessType.US_MPTO: "U.S. Marine Port Authority or Terminal Operator",
    BusinessType.FOREIGN_MPTO: "Foreign-based Marine Port Terminal Operator",
    BusinessType.FOREIGN_MANUFACTURER: "Foreign Manufacturer",
    BusinessType.THIRD_PARTY_LOGISTICS: "Third Party Logistics Provider (3PL)",
}


class ConsolidatorSubtype(StrEnum):
    """The three kinds of consolidator CBP distinguishes."""

    AIR_FREIGHT = "air_freight"
    OTI = "oti"
    NVOCC = "nvocc"

    @property
    def label(self) -> str:
        return {
            "air_freight": "Air Freight Consolidator",
            "oti": "Ocean Transportation Intermediary (OTI)",
            "nvocc": "Non-Vessel Operating Common Carrier (NVOCC)",
        }[self.value]


class HighwayBorder(StrEnum):
    """Where a highway carrier crosses; carriers crossing both borders apply as Mexican."""

    CANADA = "canada"
    MEXICO = "mexico"

    @property
    def label(self) -> str:
        return {"canada": "U.S. / Canada", "mexico": "U.S. / Mexico"}[self.value]
