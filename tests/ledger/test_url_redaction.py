"""A database password never reaches a message or a log, in any of the forms a URL carries one
(issue 14, point 11): the helper over every form, libpq's own error texts (which echo parts of
the URL), ``init``'s output, and a real ``serve`` process's banner and 503 log lines."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.api.serving import serve_process
from typer.testing import CliRunner

from consentry.api import tokens
from consentry.cli.main import app
from consentry.db_urls import libpq_url, redact, redact_text
from consentry.errors import ConsentryError, LedgerBackendError
from consentry.ledger import open_ledger
from consentry.workspace import Workspace

SECRET = "s3cret-pw"

FORMS = [
    ("postgresql://u:s3cret-pw@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgresql://u:s3cr@t-pw@h/db", "postgresql://u:***@h/db"),
    ("postgres://u:a/b@c-pw@h/db", "postgres://u:***@h/db"),
    ("postgresql://u:s3cr%40t-pw@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?password=s3cret-pw", "postgresql://u@h/db?password=***"),
    (
        "postgresql://u@h/db?sslmode=require&password=s3cret-pw&connect_timeout=2",
        "postgresql://u@h/db?sslmode=require&password=***&connect_timeout=2",
    ),
    ("postgresql://u@h/db?passfile=/home/u/.pgpass", "postgresql://u@h/db?passfile=***"),
    ("postgresql://u@h/db?sslpassword=s3cret-pw", "postgresql://u@h/db?sslpassword=***"),
    ("host=h user=u password=s3cret-pw dbname=db", "host=h user=u password=*** dbname=db"),
    ("host=h password = 's3 cr\\'et-pw' dbname=db", "host=h password = *** dbname=db"),
    ("host=h passfile=/srv/pgpass dbname=db", "host=h passfile=*** dbname=db"),
]


@pytest.mark.parametrize(("url", "shown"), FORMS)
def test_every_form_is_redacted(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h:5432/db?options=-csearch_path%3Dx",
        "postgres://h/db",
        "sqlite:////srv/user:name@x/ledger.db",
        "host=h dbname=db",
    ],
)
def test_urls_without_a_secret_are_unchanged(url: str) -> None:
    assert redact(url) == url


_PASSWORD = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=3,
    max_size=20,
).filter(lambda p: "*" not in p)


@given(password=_PASSWORD.filter(lambda p: not set(p) & set("?#")))
def test_a_userinfo_password_never_shows(password: str) -> None:
    url = f"postgresql://user:{password}@db.example:5432/ledger"
    assert password not in redact(url)
    assert redact(url).endswith("@db.example:5432/ledger")


@given(password=_PASSWORD.filter(lambda p: not set(p) & set("&#")), first=st.booleans())
def test_a_query_password_never_shows(password: str, first: bool) -> None:
    query = f"password={password}" + ("" if first else "&sslmode=require")
    url = f"postgresql://user@db.example/ledger?{query if first else 'a=1&' + query}"
    assert password not in redact(url)


@given(password=_PASSWORD)
def test_a_quoted_dsn_password_never_shows(password: str) -> None:
    quoted = password.replace("\\", "\\\\").replace("'", "\\'")
    dsn = f"host=db.example password='{quoted}' dbname=ledger"
    assert password not in redact(dsn) and quoted not in redact(dsn)


@given(password=_PASSWORD)
def test_an_echo_of_the_password_in_any_text_is_hidden(password: str) -> None:
    url = f"postgresql://user:{quote(password, safe='')}@h/db"
    text = f'libpq said: invalid token "{password}" near {quote(password, safe="")}'
    assert password not in redact_text(text, url)


def test_libpq_gets_the_password_whole() -> None:
    # libpq splits the userinfo at its first @: the rest of the password would become the host.
    assert libpq_url("postgresql://u:s3cr@t/x@h/db") == "postgresql://u:s3cr%40t%2Fx@h/db"
    assert libpq_url("sqlite:////srv/a:b@c/ledger.db") == "sqlite:////srv/a:b@c/ledger.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ledger:s3cr@t-pw@127.0.0.1:1/nowhere?connect_timeout=2",  # @ in it
        "postgresql://ledger:p%zzs3cret-pw@127.0.0.1:1/nowhere",  # libpq echoes the token
        "postgresql://ledger@127.0.0.1:1/nowhere?password=s3cret-pw&connect_timeout=2",
        "postgresql://ledger@127.0.0.1:1/nowhere?bogus=1&password=s3cret-pw",
        "host=127.0.0.1 port=1 password=s3cret-pw connect_timeout=2",
        "host=127.0.0.1 port=1 password=s3cret-pw junk",  # libpq echoes the stray word
    ],
)
def test_driver_errors_do_not_echo_the_password(url: str) -> None:
    with pytest.raises(ConsentryError) as caught:
        open_ledger(url)
    message = str(caught.value)
    for part in ("s3cret", "s3cr", "zzs3"):
        assert part not in message, message
    assert caught.value.__cause__ is None  # a traceback would print libpq's own words


def test_psycopg_echoes_what_the_helper_hides() -> None:
    """The case above is not vacuous: libpq itself does put the password in its message."""
    url = "postgresql://ledger:p%zzs3cret-pw@127.0.0.1:1/nowhere"
    with pytest.raises(psycopg.Error) as caught:
        psycopg.connect(url)
    assert "s3cret-pw" in str(caught.value)
    assert "s3cret" not in redact_text(str(caught.value), url)


def test_an_unsupported_url_is_named_without_its_password() -> None:
    with pytest.raises(ConsentryError) as caught:
        open_ledger("mysql://u:s3cret-pw@h/db")
    assert "s3cret" not in str(caught.value) and "mysql://u:***@h/db" in str(caught.value)


def _secret_url(base: str) -> str:
    """``base`` (the test server, which trusts any password) with a password in two forms."""
    user, at, rest = base.partition("://")[2].partition("@")
    assert at, base
    app_name = f"redact-{secrets.token_hex(4)}"
    return f"postgresql://{user}:s3cr@t-pw@{rest}&password=q-s3cret-pw&application_name={app_name}"


@pytest.mark.postgres
def test_init_prints_no_password(postgres_url: str, tmp_path: Path) -> None:
    url = _secret_url(postgres_url)
    result = CliRunner().invoke(app, ["init", "-w", str(tmp_path / "ws"), "--db", url])
    assert result.exit_code == 0, result.output
    assert "s3cr" not in result.output and "postgresql://postgres:***@" in result.output
    assert "password=***" in result.output


@pytest.mark.postgres
@pytest.mark.slow
def test_serve_banner_and_503_logs_print_no_password(
    postgres_url: str, postgres_server_url: str, tmp_path: Path
) -> None:
    url = _secret_url(postgres_url)
    ws = Workspace.init(tmp_path / "ws", db_url=url)
    env = {**os.environ, "CONSENTRY_WORKSPACE": str(ws.root)}
    env.pop("CONSENTRY_DB", None)
    log = tmp_path / "serve.log"
    with serve_process(env=env, log=log) as base:
        # Cut the service's connections under it: its next ledger reads fail, as in an outage.
        app_name = url.rpartition("application_name=")[2]
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (app_name,),
            )
        token = tokens.mint(tokens.signing_key(ws), "1001")
        codes = [
            httpx.get(f"{base}/v1/me/consent", headers={"Authorization": f"Bearer {token}"})
            for _ in range(3)
        ]
        assert 503 in [r.status_code for r in codes], [r.text for r in codes]
    text = log.read_text()
    assert "Serving" in text and "postgresql://postgres:***@" in text, text
    assert "LedgerBackendError" in text, text
    for part in ("s3cr", "q-s3cret"):
        assert part not in text, text


def test_backend_error_messages_in_logs_are_redacted() -> None:
    """What the service logs for a 503 is redacted again, whatever raised it."""
    exc = LedgerBackendError("reading postgresql://u:s3cret-pw@h/db?password=s3cret-pw failed")
    assert "s3cret" not in redact_text(str(exc))
