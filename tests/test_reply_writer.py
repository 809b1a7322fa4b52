"""soap.writer against Spyne's own serializer: the same values give the same XML, for every operation.

Two Spyne applications publish one operation per (procedure, case) with the gateway's result types;
one returns Spyne objects and serializes them the Spyne way, the other returns the plain values the
gateway's operations return and writes them with ReplyWriter.  Their replies must be equal in
exclusive canonical XML (which ignores attribute order, an unused namespace declaration and
<a/> versus <a></a>).
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from spyne import Application, Service, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from envelopes import envelope
from soap_gateway.backend.codec import Row
from soap_gateway.catalogue import load_catalogue
from soap_gateway.operations import OutputConverter, Reply
from soap_gateway.soap.accounting import PaymentResults
from soap_gateway.soap.execute import ExecuteRows
from soap_gateway.soap.models import TNS
from soap_gateway.soap.services import result_type
from soap_gateway.soap.writer import StreamingSoap11, escape

CATALOGUE = load_catalogue()
ZONE = ZoneInfo("Asia/Yekaterinburg")
TRICKY = "Ёлка & <ООО «Ромашка»> \"a\" 'b'\tc\r\n😀"


def _sample(column: Any, variant: int) -> Any:
    """A decoded value of the column's type; variant 2 is the awkward one."""
    kind = column.type.kind
    if kind in ("short", "int", "long"):
        return [0, -(1 << 15), (1 << 15) - 1][variant]
    if kind == "decimal":
        return [Decimal("0"), Decimal("-1234567.5"), Decimal("1E+2")][variant]
    if kind == "string":
        return ["", "Иванов", TRICKY][variant][: column.type.max_len]
    if kind == "ipv4":
        return ["0.0.0.0", "10.0.1.15", "255.255.255.255"][variant]
    if kind == "datetime":
        return [dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 29, 23, 59, 59, 999), dt.datetime(1999, 12, 31, 0, 0)][variant]
    if kind == "date":
        return [dt.date(2024, 1, 1), dt.date(2000, 2, 29), dt.date(1970, 1, 1)][variant]
    raise LookupError(kind)


def _rows(proc: Any) -> list[Row]:
    empty = Row({c.name: None for c in proc.columns})
    full = Row({c.name: _sample(c, 1) for c in proc.columns}, {"floors": "9", "note": ""})
    odd = Row({c.name: (_sample(c, i % 3) if i % 2 else None) for i, c in enumerate(proc.columns)}, {"x": TRICKY})
    return [empty, full, odd]


def _cases() -> Iterator[tuple[str, Any, Callable[[], Any], Callable[[], Any]]]:
    """(operation, result type, Spyne's value, the gateway's value) for every procedure and case."""
    for name, proc in CATALOGUE.items():
        returns = result_type(proc)  # one class per application, as in the gateway
        for zone in (None, ZONE):
            convert = OutputConverter(proc, zone)
            rows = [convert(row) for row in _rows(proc)]
            suffix = "z" if zone else "w"
            if proc.result == "rows":
                yield (f"{name}_{suffix}_many", returns, lambda r=rows: [_objects(v) for v in r],
                       lambda r=rows: Reply(rows=iter(r), complete=False))
                yield (f"{name}_{suffix}_none", returns, lambda: [], lambda: Reply(rows=[]))
            else:
                for number, values in enumerate([*rows, {}]):
                    yield (f"{name}_{suffix}_{number}", returns, lambda v=values: _objects(v),
                           lambda v=values: Reply(value=v))
    # the gateway's own operations
    batch = [{"LINE": 1, "IDEMPOTENCY_KEY": "k-1", "STATUS": "posted", "USER_ID": 101, "ID": 7, "BATCH_ID": "b-1"},
             {"LINE": 2, "IDEMPOTENCY_KEY": "k-2", "STATUS": "refused", "USER_ID": None, "ID": None,
              "FAULTCODE": "Client.ValidationError", "CODE": "VALIDATION_ERROR", "MESSAGE": TRICKY, "BATCH_ID": "b-1"}]
    yield ("GatewayPostPayments_many", PaymentResults.customize(min_occurs=1, nillable=False),
           lambda: [_objects(v) for v in batch], lambda: Reply(rows=iter(batch), complete=False))
    executed = [{"COLUMNS": [{"NAME": "ID", "VALUE": "101"}, {"NAME": "NOTE", "VALUE": None},
                             {"NAME": "TEXT", "VALUE": TRICKY}]}, {"COLUMNS": []}]
    yield ("EXECUTE_many", ExecuteRows.customize(min_occurs=1, nillable=False),
           lambda: [SimpleNamespace(COLUMNS=[SimpleNamespace(**c) for c in v["COLUMNS"]]) for v in executed],
           lambda: Reply(rows=executed))
    yield ("EXECUTE_none", ExecuteRows.customize(min_occurs=1, nillable=False), lambda: [], lambda: Reply(rows=[]))


def _objects(values: dict[str, Any]) -> SimpleNamespace:
    """What Spyne serializes: any object with the fields as attributes."""
    plain = dict(values)
    if "EXTRA_COLUMNS" in plain:
        plain["EXTRA_COLUMNS"] = [SimpleNamespace(**extra) for extra in plain["EXTRA_COLUMNS"]]
    return SimpleNamespace(**plain)


def _application(streaming: bool) -> WsgiApplication:
    methods = {}
    for operation, returns, spyne_value, gateway_value in _cases():
        methods[operation] = rpc(_returns=returns, _wsdl_part_name="parameters", _operation_name=operation,
                                 _out_variable_name=f"{operation}Result")(
            _method(operation, gateway_value if streaming else spyne_value))
    service = type("WriterCheck", (Service,), {"__namespace__": TNS, **methods})
    app = Application([service], tns=TNS, in_protocol=Soap11(),
                      out_protocol=StreamingSoap11() if streaming else Soap11())
    wsgi = WsgiApplication(app)
    if streaming:
        app.out_protocol.prepare()
    return wsgi


def _method(name: str, produce: Callable[[], Any]) -> Callable[[Any], Any]:
    def method(ctx: Any) -> Any:
        return produce()
    method.__name__ = name  # Spyne keys methods by function name
    return method


@pytest.fixture(scope="module")
def apps() -> tuple[WsgiApplication, WsgiApplication]:
    return _application(False), _application(True)


def _call(app: WsgiApplication, operation: str) -> tuple[str, bytes]:
    body = envelope(f"<b:{operation}/>").encode()
    seen: dict[str, Any] = {}
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "CONTENT_TYPE": "text/xml; charset=utf-8",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": "test",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "QUERY_STRING": ""}
    chunks = app(environ, lambda status, headers, exc_info=None: seen.update(status=status))
    return seen["status"], b"".join(chunks)


def _canonical(data: bytes) -> bytes:
    return etree.tostring(etree.fromstring(data), method="c14n", exclusive=True)


@pytest.mark.parametrize("operation", [case[0] for case in _cases()])
def test_writer_matches_spyne(apps: tuple[WsgiApplication, WsgiApplication], operation: str) -> None:
    spyne_app, ours = apps
    expected_status, expected = _call(spyne_app, operation)
    status, written = _call(ours, operation)
    assert (status, expected_status) == ("200 OK", "200 OK")
    assert _canonical(written) == _canonical(expected)
    assert written.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_every_case_has_content(apps: tuple[WsgiApplication, WsgiApplication]) -> None:
    # the comparison above means something only if the values reached the XML
    _, written = _call(apps[1], "CLN_FIN_OPER_w_many")
    text = written.decode()
    assert text.count("<tns:Row>") == 3 and "Ёлка &amp; &lt;ООО" in text and "&#13;" in text
    assert "<tns:NAME>floors</tns:NAME>" in text and 'xsi:nil="true"' in text


def test_a_long_list_comes_in_pieces_and_closes_its_source() -> None:
    proc = CATALOGUE["CLN_FIN_OPER"]
    row = OutputConverter(proc, None)(_rows(proc)[1])
    closed = []
    app = _application(True)
    out = app.app.out_protocol
    (descriptor,) = [d for ds in app.app.interface.service_method_map.values() for d in ds
                     if d.name == "CLN_FIN_OPER_w_many"]
    writer = out.writer(descriptor.out_message)
    pieces = list(writer.chunks(Reply(rows=(row for _ in range(5000)), complete=False,
                                      close=closed.append)))
    assert len(pieces) > 5 and closed == ["Abandoned"]  # the writer never knows the rows ran out
    document = etree.fromstring(b"".join(pieces))
    assert len(document[0][0][0]) == 5000


@pytest.mark.parametrize("text", [TRICKY, "a]]>b", "\t\n\r", "", "x" * 1000 + "&"])
def test_text_is_escaped_as_lxml_escapes_it(text: str) -> None:
    element = etree.Element("a")
    element.text = text
    assert f"<a>{escape(text)}</a>".encode() == etree.tostring(element, encoding="UTF-8").split(b"?>\n", 1)[-1]


@pytest.mark.parametrize("text", ["\x00", "a\x01b", "\x1f"])
def test_text_lxml_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError) as ours:
        escape(text)
    with pytest.raises(ValueError) as lxmls:
        etree.Element("a").text = text
    assert str(ours.value) == str(lxmls.value)
