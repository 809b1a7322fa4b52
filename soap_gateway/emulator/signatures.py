"""The emulator's own transcription of the vendor page: every procedure's parameters and reply columns.

Written in the page's own notation (``NAME type``) and parsed once at import; deliberately independent of
the gateway's catalogue, so a mistake there cannot hide behind the same mistake here.
"""
from __future__ import annotations

import re

from .sqltypes import Anything, Double, Int, IpText, Money, SqlType, Timestamp, Varchar

Field = tuple[str, SqlType]

_SIMPLE: dict[str, SqlType] = {
    "integer": Int(-(2**31), 2**31 - 1),
    "smallint": Int(-(2**15), 2**15 - 1),
    "numeric(18,0)": Int(-(10**18) + 1, 10**18 - 1),
    "numeric(15,2)": Money(),
    "double": Double(),
    "timestamp": Timestamp(),
    "date": Timestamp(date_only=True),
    "iptext": IpText(),  # not a Firebird type: CLN_USR_FIND_2 returns IP as dotted VARCHAR(16)
    "any": Anything(),
}


def sql_type(spec: str) -> SqlType:
    spec = spec.strip().lower()
    match = re.fullmatch(r"varchar\((\d+)\)", spec)
    return Varchar(int(match.group(1))) if match else _SIMPLE[spec]


def fields(text: str) -> tuple[Field, ...]:
    """``"ID integer; NAME varchar(10)"`` -> ((name, type), ...)."""
    pairs = (item.split() for item in text.split(";") if item.strip())
    return tuple((name.upper(), sql_type(spec)) for name, spec in pairs)


# Parameters after SUID (CLN_AUTH_LOGIN has no SUID). Order = arg order on the wire.
PARAMS: dict[str, tuple[Field, ...]] = {
    "CLN_AUTH_LOGIN": fields("LOGIN varchar(32); PASSWORD varchar(32); P_FLAG integer"),
    "CLN_HOME_EDIT": fields(
        "P_OP integer; ID integer; PULL_ID integer; CONNECT_DATE timestamp; ZIP_CODE varchar(10);"
        "COUNTRY varchar(256); CITY varchar(256); REGION varchar(256); STREET varchar(256);"
        "S_NUMBER integer; S_LITER varchar(32)"
    ),
    "CLN_HOME_LIST": fields("P_ID integer"),
    "CLN_SWITCH_EDIT": fields(
        "P_OP integer; ID integer; NAME varchar(1024); IP integer; SWITCH_TYPE varchar(256);"
        "PSW_SNMP varchar(40); PSW_SSH varchar(40); PSW_TELNET varchar(40); HOME_ID integer;"
        "PORTS_CNT integer; UPDATE_HOME_FLAG integer"
    ),
    "CLN_SWITCH_LIST": fields("P_ID integer; P_HOME_ID integer"),
    "CLN_USR_USLUGA_EDIT": fields(
        "ID integer; USER_ID integer; USLUGA_ID integer; ENABLED integer; CREATE_DATE timestamp;"
        "NEXT_DATE timestamp; COUNTT integer; UK integer; COMMENT varchar(64); EQUIPMENT_ID integer;"
        "SIP_ID varchar(32)"
    ),
    "CLN_USR_GET": fields("SELECT_ID integer"),
    "WEB_USER_PROMISE_PAY": fields("USER_ID integer; PROMISE_PAY double; HOST varchar(15)"),
    "CLN_USR_FIND_2": fields(
        "NAME_IN varchar(128); LOGIN_IN varchar(32); ID_IN integer; EMAIL_IN varchar(128); IP_IN integer;"
        "FINANCE_IN integer; SERVER_IN integer; ADMIN_IN integer; BALANCEL_IN double; BALANCEH_IN double;"
        "PARENT_ID_IN integer; END_USER_IN integer; COUNT_USER_IN integer; ALL_IN integer;"
        "DELETED_IN integer; ATTRIBUTE varchar(128); CONTRACT_NUMBER_IN varchar(32); TARIFF_ID integer;"
        "ROUTER_IP integer; ROUTER_VLAN integer; ROUTER_PORT integer; SIP_ID varchar(32);"
        "SMS_IN varchar(32); NAS_IP integer"
    ),
    "CLN_FIN_OPER_ADD": fields(
        "USER_ID integer; OP_DATE timestamp; SUMMA double; DESCR varchar(255); NUMBER varchar(10);"
        "OP_TYPE integer; RESERVED any"
    ),
    "CLN_FIN_OPER": fields(
        "USER_ID integer; DATEL timestamp; DATEH timestamp; FINANCE_IN integer; OP_TYPE_IN integer;"
        "ID integer; END_USER integer; FIN_USER integer; PARENT_ID_IN integer"
    ),
}

SUID_TYPE = _SIMPLE["numeric(18,0)"]
LOGIN_PROC = "CLN_AUTH_LOGIN"

LOGIN_COLUMNS = fields("SUID numeric(18,0)")
ID_COLUMNS = fields("ID integer")

HOME_COLUMNS = fields(
    "ID integer; PULL_ID integer; CONNECT_DATE timestamp; ZIP_CODE varchar(10); COUNTRY varchar(256);"
    "CITY varchar(256); REGION varchar(256); STREET varchar(256); S_NUMBER integer; S_LITER varchar(32)"
)
SWITCH_COLUMNS = fields(
    "ID integer; NAME varchar(1024); IP integer; SWITCH_TYPE varchar(256); PSW_SNMP varchar(40);"
    "PSW_SSH varchar(40); PSW_TELNET varchar(40); HOME_ID integer; PORTS_CNT integer"
)
FIND_COLUMNS = fields(
    "ID integer; PARENT_IDENTIFY varchar(1024); IDENTIFY varchar(150); IP iptext; BALANCE numeric(15,2);"
    "DELETED smallint; END_USER smallint; SERVER integer; PARID integer; COMMENT varchar(512);"
    "PARID1 integer; ID1 integer; COUNT_USER integer; LOGIN varchar(32); COLOR varchar(32)"
)
FIN_OPER_COLUMNS = fields(
    "ID integer; USER_ID integer; PARENT_ID integer; OP_DATE timestamp; SUMMA numeric(15,2);"
    "DESCR varchar(255); NUMBER varchar(10); OP_TYPE integer; FINANCE smallint"
)

# CLN_USR_GET: one row, every column of the vendor page list, in its order (114 columns).
USR_GET_COLUMNS = fields("""
USER_ID integer; PARENT_ID integer; TARIF_ID integer; USE_PARENT_TARIF integer; LOGIN varchar(32);
NAME varchar(128); EMAIL varchar(128); PULL_ID integer; USE_PARENT_PULL integer; IP integer; SNATIP integer;
USE_PARENT_SNATIP integer; NET_SIZE integer; OSTATOK numeric(15,2); CREDIT numeric(15,2); DEBIT numeric(15,2);
BALANCE numeric(15,2); LIMIT numeric(15,2); UNLIMITED smallint; FINANCE_USER smallint; ENABLED smallint;
DELETED smallint; END_USER smallint; ROOT_ADMIN smallint; TECH_ADMIN smallint; FIN_ADMIN smallint;
CARD_ADMIN smallint; AUTO_ACCOUNT integer; AUTO_INTERVAL integer; SERVER smallint; PSW varchar(16);
BALANCE_BUH numeric(15,2); NEXT_AUTO_ACOUNT timestamp; AUTO_ACCOUNT_LOCK integer; LIMIT_LOCK integer;
ALLOW_RECONNECT integer; ALLOW_MAIL integer; ALLOW_INTERNET_CONNECT integer; LIMIT_WARNING numeric(15,2);
USE_LIMIT_WARNING integer; LOGGED integer; USERS_COUNT integer; DEL_COUNT integer;
ALLOW_VIEW_PARENT_LIMIT integer; DISABLED_DATE timestamp; ABONENT_PAY numeric(15,2); REDIRECT_MAIL integer;
AUTH_TYPE integer; USE_PARENT_AUTH_TYPE integer; AD_IS integer; AD_BASEDN varchar(256); AD_BINDDN varchar(256);
AD_PASS varchar(64); AD_HOST integer; AD_UPDATE timestamp; AD_FILTER varchar(256); DEF_ALLOW_MAIL integer;
DEF_AUTO_ACCOUNT_INTERVAL integer; DEF_ALLOW_RECONNECT integer; DEF_ALLOW_INTERNET_CONNECT integer;
DEF_ALLOW_VIEW_PARENT_LIMIT integer; DEF_OSTATOK numeric(15,2); DEF_LIMIT numeric(15,2);
DEF_WARNING numeric(15,2); AD_DOMAIN varchar(256); AD_LDAP_GROUP varchar(128); AD_WINDOWS_GROUP varchar(128);
MAC varchar(17); ALLOW_MAIL_INTERNET integer; DEF_ALLOW_MAIL_INTERNET integer; AD_DOMAIN_ISJOIN integer;
CONTRACT_NUMBER varchar(32); USE_PARENT_ABONENT_PAY integer; FORCE_MAILDIR integer; ALWAYS_LOGGED integer;
PLAN_NEXT_ID integer; READ_ADMIN smallint; ROUTER_IP integer; ROUTER_VLAN integer; ROUTER_PORT integer;
NAS_IP integer; OPT82 integer; OWN_DISABLED_END timestamp; PROMISE_PAY numeric(15,2);
PROMISE_DATE_END timestamp; HOST_IP integer; FULL_ADMIN integer; NAS_IP_LOCK integer; CODE1C varchar(32);
SYNC1C integer; HOST_PULL_ID integer; KILL_TIME timestamp; SMS varchar(32); GEN_PWD varchar(32);
COMPANY integer; SEND_ACT integer; HOME_ID integer; SWITCH_ID integer; SWITCH_NAME varchar(1024);
A_HOME_NUMBER integer; ACL integer; TARIF_TXT varchar(32); IP_RANGE varchar(32); SNATIP_CACHE integer;
CREATE_DATE date; STB_IP integer; STB_IP_PULL_ID integer; STB_USE_PARENT_PULL integer; STB_MAC varchar(17);
VOIP_IP integer; VOIP_IP_PULL_ID integer; VOIP_USE_PARENT_PULL integer; VOIP_MAC varchar(17);
SORM_ADMIN smallint
""")


def params_for(proc: str, legacy_find: bool) -> tuple[Field, ...]:
    """Parameters of an installation: old ones take CLN_USR_FIND_2 without its last argument, NAS_IP."""
    params = PARAMS[proc]
    return params[:-1] if legacy_find and proc == "CLN_USR_FIND_2" else params
