"""The one error hierarchy maps to faults in one place, and every error has a mapping of its own."""

from __future__ import annotations

import inspect

import pytest

from soap_gateway import errors
from soap_gateway.soap.faults import FAULTS, lookup

EVERY_ERROR = [cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, errors.GatewayError)]


@pytest.mark.parametrize("cls", EVERY_ERROR, ids=lambda cls: cls.__name__)
def test_every_gateway_error_has_its_own_fault_mapping(cls: type[errors.GatewayError]) -> None:
    # declared on the class itself: an error added without them would silently borrow its parent's
    assert {"code", "title"} <= set(vars(cls)), f"{cls.__name__} needs its own code and title"
    error = cls.__new__(cls)  # no constructor arguments needed to look the mapping up
    faultcode, code, title = lookup(error)
    assert faultcode.startswith(("Client", "Server")) and (code, title) == (cls.code, cls.title)


def test_each_error_has_a_detail_code_of_its_own() -> None:
    codes = [cls.code for cls in EVERY_ERROR]
    assert len(codes) == len(set(codes))


def test_the_hierarchy_is_written_down_where_it_is_defined() -> None:
    assert set(FAULTS) <= set(EVERY_ERROR)
    tree = errors.__doc__ or ""
    assert [cls.__name__ for cls in EVERY_ERROR if cls.__name__ not in tree] == []
