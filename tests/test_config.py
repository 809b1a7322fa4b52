"""Settings: the TOML file, the fixed environment variables (DESIGN.md §5), and their checks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from soap_gateway.config import DEFAULT_SESSION_EXPIRED_PATTERNS, ENVIRONMENT, Settings
from soap_gateway.errors import ConfigurationError

FULL = """
[billing]
url = "https://10.0.0.5:1443/api.php"
cert = "/etc/soap-gateway/kassa1.pfx"
cert_password = "pfx-FILE-secret"
ca = "/etc/soap-gateway/billing-ca.pem"
pin_sha256 = "ab:cd"
server_name = "billing.local"
login = "api_admin"
password = "pw-FILE-secret"
login_mode = "one-step"
connect_timeout = 2.5
read_timeout = 60
pool_size = 4
timezone = "Asia/Yekaterinburg"
timestamp_format = "%d.%m.%Y %H:%M:%S"
session_expired_patterns = ["(?i)expired", "SUID"]
read_retries = 0
catalogue_files = ["/etc/soap-gateway/site.toml"]

[billing.arg_counts]
CLN_USR_FIND_2 = 23

[server]
listen = "0.0.0.0:8080"
public_url = "https://gw.example/soap"
workers = 3
threads = 8
timeout = 30
max_body_bytes = 65536
datetime_output = "offset"
log_format = "json"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    return Settings.load(write(tmp_path, text), environ or {})


def test_defaults() -> None:
    settings = Settings.load(None, {})
    billing, server = settings.billing, settings.server
    assert billing.url == "" and billing.login == "" and billing.password == ""
    assert billing.login_mode == "session"
    assert billing.connect_timeout == 5.0 and billing.read_timeout == 30.0
    assert billing.timezone == "Europe/Moscow" and billing.timestamp_format == "%Y-%m-%d %H:%M:%S"
    assert billing.session_expired_patterns == DEFAULT_SESSION_EXPIRED_PATTERNS
    assert billing.catalogue_files == () and dict(billing.arg_counts) == {}
    assert server.listen == "127.0.0.1:8000" and server.address == ("127.0.0.1", 8000)
    assert server.wsdl_address == "http://127.0.0.1:8000/soap"
    assert server.datetime_output == "wall"
    assert settings == Settings()


def test_file_sections(tmp_path: Path) -> None:
    settings = load_text(tmp_path, FULL)
    billing, server = settings.billing, settings.server
    assert billing.url == "https://10.0.0.5:1443/api.php"
    assert billing.host == "10.0.0.5" and billing.expected_name == "billing.local"
    assert billing.cert_password == "pfx-FILE-secret" and billing.password == "pw-FILE-secret"
    assert billing.login_mode == "one-step"
    assert billing.connect_timeout == 2.5 and isinstance(billing.connect_timeout, float)
    assert billing.read_timeout == 60.0 and isinstance(billing.read_timeout, float)
    assert billing.pool_size == 4 and billing.read_retries == 0
    assert billing.session_expired_patterns == ("(?i)expired", "SUID")
    assert billing.catalogue_files == ("/etc/soap-gateway/site.toml",)
    assert dict(billing.arg_counts) == {"CLN_USR_FIND_2": 23}
    assert server.address == ("0.0.0.0", 8080) and server.wsdl_address == "https://gw.example/soap"
    assert (server.workers, server.threads, server.timeout, server.max_body_bytes) == (3, 8, 30, 65536)
    assert server.datetime_output == "offset" and server.log_format == "json"


def test_expected_name_falls_back_to_the_url_host(tmp_path: Path) -> None:
    billing = load_text(tmp_path, '[billing]\nurl = "https://billing.example:1443/api.php"\n').billing
    assert billing.expected_name == billing.host == "billing.example"


def test_the_environment_contract_is_the_documented_one() -> None:
    assert set(ENVIRONMENT) == {
        "SOAP_GATEWAY_BILLING_URL", "SOAP_GATEWAY_BILLING_CERT", "SOAP_GATEWAY_BILLING_CERT_PASSWORD",
        "SOAP_GATEWAY_BILLING_CA", "SOAP_GATEWAY_BILLING_SERVER_NAME", "SOAP_GATEWAY_BILLING_LOGIN",
        "SOAP_GATEWAY_BILLING_PASSWORD", "SOAP_GATEWAY_LISTEN", "SOAP_GATEWAY_PUBLIC_URL"}


ENV_VALUES = {
    "SOAP_GATEWAY_BILLING_URL": ("billing", "url", "https://192.0.2.7:1443/api.php"),
    "SOAP_GATEWAY_BILLING_CERT": ("billing", "cert", "/run/secrets/cashier.pfx"),
    "SOAP_GATEWAY_BILLING_CERT_PASSWORD": ("billing", "cert_password", ""),
    "SOAP_GATEWAY_BILLING_CA": ("billing", "ca", "/run/secrets/ca.pem"),
    "SOAP_GATEWAY_BILLING_SERVER_NAME": ("billing", "server_name", "carbon.isp"),
    "SOAP_GATEWAY_BILLING_LOGIN": ("billing", "login", "env_admin"),
    "SOAP_GATEWAY_BILLING_PASSWORD": ("billing", "password", "pw-ENV"),
    "SOAP_GATEWAY_LISTEN": ("server", "listen", "[::1]:9000"),
    "SOAP_GATEWAY_PUBLIC_URL": ("server", "public_url", "https://public.example/soap"),
}


@pytest.mark.parametrize("variable", sorted(ENV_VALUES))
def test_each_environment_variable_overrides_the_file(tmp_path: Path, variable: str) -> None:
    section, key, value = ENV_VALUES[variable]
    from_file = load_text(tmp_path, FULL)
    assert getattr(getattr(from_file, section), key) != value
    settings = load_text(tmp_path, FULL, {variable: value})
    assert getattr(getattr(settings, section), key) == value
    # and only that one key: everything else still comes from the file
    others = dataclasses.replace(getattr(settings, section), **{key: getattr(getattr(from_file, section), key)})
    assert others == getattr(from_file, section)


def test_environment_without_a_file() -> None:
    settings = Settings.load(None, {variable: value for variable, (_, _, value) in ENV_VALUES.items()})
    assert settings.billing.url == "https://192.0.2.7:1443/api.php"
    assert settings.server.address == ("::1", 9000)
    assert settings.billing.expected_name == "carbon.isp"


def test_process_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ENVIRONMENT:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SOAP_GATEWAY_LISTEN", "127.0.0.1:8123")
    monkeypatch.setenv("SOAP_GATEWAY_UNRELATED", "ignored")
    assert Settings.load().server.address == ("127.0.0.1", 8123)


@pytest.mark.parametrize("text, key", [
    ("[billing]\nxyz = 1\n", "billing.xyz"),
    ("[server]\nlisten_on = \"x\"\n", "server.listen_on"),
    ("[billng]\nurl = \"https://b/api.php\"\n", "billng"),
])
def test_unknown_key_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_text(tmp_path, text)
    assert f"unknown setting {key};" in str(info.value)


@pytest.mark.parametrize("text, key", [
    ("[billing]\npool_size = \"ten\"\n", "billing.pool_size"),
    ("[billing]\npool_size = 2.5\n", "billing.pool_size"),
    ("[billing]\nconnect_timeout = true\n", "billing.connect_timeout"),
    ("[billing]\nconnect_timeout = \"soon\"\n", "billing.connect_timeout"),
    ("[billing]\nurl = 5\n", "billing.url"),
    ("[billing]\nlogin_mode = \"sometimes\"\n", "billing.login_mode"),
    ("[billing]\nsession_expired_patterns = [1, 2]\n", "billing.session_expired_patterns"),
    ("[billing]\narg_counts = { CLN_USR_FIND_2 = \"23\" }\n", "billing.arg_counts"),
    ("[server]\nlisten = 8000\n", "server.listen"),
    ("[server]\nlog_format = \"xml\"\n", "server.log_format"),
    ("billing = \"https://b/api.php\"\n", "billing"),
])
def test_wrong_type_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_text(tmp_path, text)
    assert str(info.value).startswith(f"{key}:"), str(info.value)


@pytest.mark.parametrize("key", ["password", "cert_password"])
def test_wrong_type_of_a_secret_does_not_show_it(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_text(tmp_path, f"[billing]\n{key} = 987654321\n")
    assert str(info.value).startswith(f"billing.{key}:")
    assert "987654321" not in str(info.value)


@pytest.mark.parametrize("url", [
    "ftp://billing.example/api.php", "billing.example:1443/api.php", "https://", "https:///api.php",
    "https://billing.example:99999/api.php", "https://billing.example:port/api.php",
])
def test_bad_billing_url(url: str) -> None:
    with pytest.raises(ConfigurationError, match="billing.url"):
        Settings.load(None, {"SOAP_GATEWAY_BILLING_URL": url})


@pytest.mark.parametrize("url", ["https://10.0.0.5:1443/api.php", "http://billing:1444/api.php",
                                 "https://[2001:db8::1]:1443/api.php"])
def test_good_billing_url(url: str) -> None:
    assert Settings.load(None, {"SOAP_GATEWAY_BILLING_URL": url}).billing.url == url


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:http", "127.0.0.1:", "127.0.0.1:70000",
                                    "127.0.0.1:-1", ""])
def test_bad_listen(listen: str) -> None:
    with pytest.raises(ConfigurationError, match="server.listen"):
        Settings.load(None, {"SOAP_GATEWAY_LISTEN": listen})


@pytest.mark.parametrize("listen, address", [
    ("0.0.0.0:8080", ("0.0.0.0", 8080)), ("[::]:8000", ("::", 8000)), (":8001", ("127.0.0.1", 8001)),
    ("gw.local:65535", ("gw.local", 65535)),
])
def test_good_listen(listen: str, address: tuple[str, int]) -> None:
    assert Settings.load(None, {"SOAP_GATEWAY_LISTEN": listen}).server.address == address


def test_other_checks(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="server.public_url"):
        Settings.load(None, {"SOAP_GATEWAY_PUBLIC_URL": "gw.example/soap"})
    with pytest.raises(ConfigurationError, match="billing.read_timeout"):
        load_text(tmp_path, "[billing]\nread_timeout = 0\n")
    with pytest.raises(ConfigurationError, match="billing.session_expired_patterns"):
        load_text(tmp_path, "[billing]\nsession_expired_patterns = [\"(unclosed\"]\n")


def test_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigurationError, match="does not exist") as info:
        Settings.load(missing, {})
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_text(tmp_path, "[billing\nurl = 1\n")


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    settings = load_text(tmp_path, FULL)
    for text in (repr(settings), str(settings), repr(settings.billing)):
        assert "pw-FILE-secret" not in text and "pfx-FILE-secret" not in text
        assert "api_admin" in text  # the rest is shown
    env = Settings.load(None, {"SOAP_GATEWAY_BILLING_PASSWORD": "pw-ENV-xyz",
                               "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "pfx-ENV-xyz"})
    assert env.billing.password == "pw-ENV-xyz"
    assert "ENV-xyz" not in repr(env)


def test_settings_are_frozen() -> None:
    settings = Settings.load(None, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.billing.url = "https://x/api.php"  # type: ignore[misc]
    changed = settings.replace(server=dataclasses.replace(settings.server, listen="127.0.0.1:9"))
    assert changed.server.address == ("127.0.0.1", 9) and settings.server.address == ("127.0.0.1", 8000)
