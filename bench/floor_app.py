"""Spyne's floor: a trivial Spyne service answering CLN_USR_GET with a canned object of the same shape.

Same namespace, request, result type (the catalogue's ~115-column ``CLN_USR_GET_Result``) and
protocol options (lxml schema validation) and process settings (importing the gateway's models
also turns off Spyne's once-a-second gc.collect, see soap/app.py) as the gateway, and no billing
call: what Spyne alone costs for this reply.  The canned values are the emulator's own reply,
decoded once at start (``BENCH_FLOOR_REPLY`` names the recorded XML), so both servers send the
same content.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spyne import Application, Integer32, Service, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from soap_gateway.backend import codec
from soap_gateway.catalogue import WireFormat, load_catalogue
from soap_gateway.operations import OutputConverter
from soap_gateway.soap.models import TNS, row_model

PROC = load_catalogue()["CLN_USR_GET"]
RESULT = row_model(PROC, "Result")


def canned(path: str | None) -> Any:
    if not path:
        return RESULT()
    (row,) = codec.decode_reply(PROC, Path(path).read_bytes(), http_charset=None, fmt=WireFormat())
    return RESULT(**OutputConverter(PROC, None)(row))


CANNED = canned(os.environ.get("BENCH_FLOOR_REPLY"))


class FloorService(Service):
    __service_name__ = "BillingService"

    @rpc(Integer32(min_occurs=1, nillable=False), _args=["SELECT_ID"],
         _returns=RESULT.customize(min_occurs=1, nillable=False), _wsdl_part_name="parameters",
         _out_variable_name="CLN_USR_GETResult")
    def CLN_USR_GET(ctx: Any, SELECT_ID: int) -> Any:  # noqa: N802,N803 - the operation's published names
        return CANNED


application = WsgiApplication(Application([FloorService], tns=TNS, name="BillingGateway",
                                          in_protocol=Soap11(validator="lxml"), out_protocol=Soap11()))
