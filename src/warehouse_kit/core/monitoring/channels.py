"""Sending one message on one channel: a webhook post or an email.

A delivery tries up to `ATTEMPTS` times, waiting `BACKOFF_S` and then twice as long between
tries, when a retry may help (no connection, a timeout, a 5xx or 429 answer, a 4xx SMTP
reply); it never raises. What it reports and what is recorded name the channel by
`recipient`, which holds no secret: a webhook's URL, headers and an SMTP password are never
shown, and an error's text is built here rather than taken from the library, whose
messages quote the URL.
"""

from __future__ import annotations

import http.client
import json
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit, urlunsplit

from warehouse_kit.core.errors import first_line
from warehouse_kit.core.spec_monitoring import (
    SLACK_WEBHOOK_ENV,
    Alert,
    EmailAlert,
    WebhookAlert,
)

ATTEMPTS = 3
BACKOFF_S = 0.5
TIMEOUT_S = 10.0
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Delivery:
    delivered: bool
    error: str | None
    attempts: int


class _Failed(Exception):
    """A try that failed, with a message safe to show; `retry`: worth trying again."""

    def __init__(self, message: str, *, retry: bool):
        super().__init__(message)
        self.retry = retry


def recipient(alert: Alert) -> str:
    """Who `alert` goes to, safe to print and store: a webhook's scheme and host, an
    email's addresses."""
    if isinstance(alert, WebhookAlert):
        url = alert.webhook_url()
        if url is None:
            return f"{alert.channel} (no url)"
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}/***"
    return ", ".join(alert.to) or "email (no to)"


def send(
    alert: Alert,
    subject: str,
    text: str,
    *,
    attempts: int = ATTEMPTS,
    backoff_s: float | None = None,
) -> Delivery:
    """Deliver `text` on the alert's channel (`subject`: an email's subject line);
    `backoff_s` defaults to `BACKOFF_S`."""
    wait = BACKOFF_S if backoff_s is None else backoff_s
    if isinstance(alert, WebhookAlert):
        return _tries(lambda: _post(alert, text), attempts, wait)
    return _tries(lambda: _mail(alert, subject, text), attempts, wait)


def _tries(attempt: Callable[[], None], attempts: int, backoff_s: float) -> Delivery:
    for number in range(1, attempts + 1):
        try:
            attempt()
            return Delivery(True, None, number)
        except _Failed as exc:
            if not exc.retry or number == attempts:
                return Delivery(False, str(exc), number)
        time.sleep(backoff_s * 2 ** (number - 1))
    raise AssertionError("unreachable: the last attempt returns")


def _post(alert: WebhookAlert, text: str) -> None:
    given = alert.webhook_url()
    if given is None:
        where = f"${SLACK_WEBHOOK_ENV}" if alert.channel == "slack" else "${ALERT_WEBHOOK_URL}"
        raise _Failed(f"no url: give url (usually {where})", retry=False)
    url, where = urlsplit(given), recipient(alert)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise _Failed("url must be an http:// or https:// URL", retry=False)
    headers = {name: value.get_secret_value() for name, value in alert.headers.items()}
    headers["Content-Type"] = "application/json"
    body = json.dumps({"text": text}).encode()
    path = urlunsplit(("", "", url.path or "/", url.query, ""))
    # http.client rather than requests: urllib3 logs each request's path, a secret here.
    connection = (
        http.client.HTTPSConnection(url.hostname, url.port, timeout=TIMEOUT_S)
        if url.scheme == "https"
        else http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT_S)
    )
    try:
        connection.request("POST", path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read()
    except TimeoutError:
        raise _Failed(f"no answer from {where} within {TIMEOUT_S:g}s", retry=True) from None
    except (OSError, http.client.HTTPException) as exc:
        reason = type(exc).__name__  # its text may quote the URL: a secret
        raise _Failed(f"could not post to {where} ({reason})", retry=True) from None
    finally:
        connection.close()
    if answer.status >= 300:
        retry = answer.status in RETRY_STATUSES
        raise _Failed(f"{where} answered HTTP {answer.status} {answer.reason}", retry=retry)


def _mail(alert: EmailAlert, subject: str, text: str) -> None:
    if alert.smtp is None or not alert.to:
        raise _Failed("give smtp (usually ${SMTP_URL}) and to", retry=False)
    url = urlsplit(alert.smtp.get_secret_value())
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise _Failed("smtp must be smtp://[user:password@]host[:port] or smtps://", retry=False)
    password = unquote(url.password or "")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, alert.sender, ", ".join(alert.to)
    message.set_content(text)
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    try:
        opener = smtplib.SMTP_SSL if secure else smtplib.SMTP
        with opener(url.hostname, port, timeout=TIMEOUT_S) as server:
            if alert.starttls and not secure:
                server.starttls(context=ssl.create_default_context())
            if url.username:
                server.login(unquote(url.username), password)
            server.send_message(message)
    except smtplib.SMTPResponseException as exc:
        retry = 400 <= exc.smtp_code < 500  # 4xx: try again later; 5xx: refused
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        reply = f"{url.hostname}:{port} replied {exc.smtp_code} {text}"
        raise _Failed(_scrub(reply, password), retry=retry) from None
    except (OSError, smtplib.SMTPException) as exc:
        reason = f"could not send through {url.hostname}:{port} ({first_line(exc)})"
        raise _Failed(_scrub(reason, password), retry=True) from None


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text
