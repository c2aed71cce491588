"""FieldKit: a geospatial toolkit for procuratorial public-interest field inspections.

The library holds all domain logic; the Flask app in ``webapp`` is a thin layer over it.
"""

__version__ = "0.1.0"
