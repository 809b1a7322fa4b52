"""The procedure catalogue: the single source of what the billing offers."""

from .loader import load_catalogue, parse_catalogue
from .model import Argument, Catalogue, Column, Procedure, Row
from .types import WireFormat

__all__ = ["Argument", "Catalogue", "Column", "Procedure", "Row", "WireFormat", "load_catalogue", "parse_catalogue"]
