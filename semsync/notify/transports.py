"""Sending one rendered message: to a Slack incoming webhook, by email (SMTP), to a signed webhook.

Each send either returns a `DeliveryReceipt` (what the receiver answered) or raises a
`DeliveryError` that says whether trying again can help:

- `TransientDeliveryError`: the receiver is down, slow, rate-limiting or busy (HTTP 408, 425, 429,
  5xx; SMTP 4xx; timeouts; refused or dropped connections). `retry_after` carries the receiver's
  ``Retry-After`` when it gave one.
- `FinalDeliveryError`: the receiver refused the message or its address (HTTP 3xx and other 4xx,
  e.g. Slack's ``no_service``; SMTP 5xx, e.g. ``550`` no such user or ``535`` bad credentials).
  Only a change of configuration fixes it.

Every send carries the delivery's stable idempotency key (the same on every attempt): the
``Idempotency-Key`` header of Slack and webhook requests, the ``Message-ID`` of an email.

A webhook or Slack URL is a credential (Slack's path is its secret), and so is the signing secret:
neither appears in an error or a receipt. Messages name a receiver by ``scheme://host[:port]`` only,
receivers' answers are cut to about 1 KB and passed through `redact`, and an error is raised
outside the ``except`` block of the httpx failure, so no cause or context carries the request.
Redirects are not followed: a signed body goes to the host it was configured for, or nowhere.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import ssl
import time
from email.message import EmailMessage

import aiosmtplib
import httpx
from pydantic import BaseModel, Field

from semsync.config import NotifySettings
from semsync.errors import SemsyncError
from semsync.http.status import StatusClass, classify_status
from semsync.notify.content import EmailContent
from semsync.notify.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from semsync.redaction import redact

__all__ = [
    "DeliveryError",
    "DeliveryReceipt",
    "FinalDeliveryError",
    "TransientDeliveryError",
    "Transports",
    "message_id",
    "sign",
    "verify",
]

#: how much of a receiver's answer is kept: its start and its end, about 1 KB in all
ANSWER_LIMIT = 1024
#: how much of it an error's message quotes
_MESSAGE_ANSWER = 200
_MASK = "***"


class DeliveryReceipt(BaseModel):
    """What the receiver answered to a successful send."""

    #: the HTTP status, or the SMTP reply code of the accepted message
    status_code: int | None
    #: the receiver's answer text, cut to about 1 KB (its start and end), credentials masked
    answer: str
    #: email only: recipients the server refused while it accepted the others (with its reply)
    refused: list[str] = Field(default_factory=list)


class DeliveryError(SemsyncError):
    """A send that did not reach its receiver, or that the receiver did not accept."""

    def __init__(self, message: str, *, status_code: int | None = None, answer: str = "") -> None:
        self.message = redact(message)
        self.status_code = status_code
        self.answer = answer
        super().__init__(self.message)


class TransientDeliveryError(DeliveryError):
    """A failure that trying again later may fix (down, slow, rate-limited, busy)."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        answer: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, answer=answer)
        #: seconds the receiver asked us to wait (its ``Retry-After``), when it said
        self.retry_after = retry_after


class FinalDeliveryError(DeliveryError):
    """A refusal that only a change of configuration fixes (a wrong address, a revoked hook)."""

    retryable = False


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of `url`: what a message may say of a receiver."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    if not parsed.scheme or not parsed.host:
        return "<invalid URL>"
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _clean(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with the given secrets (a URL, its path, a signing secret) and any credential masked."""
    for secret in sorted((s for s in secrets if s and len(s) > 1), key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return redact(text)


def _cut(text: str, limit: int = ANSWER_LIMIT) -> str:
    """`text` cut to about `limit` characters, its start and end kept (an error is often at the end)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} … [{len(text) - 2 * half} characters cut] … {text[-half:]}"


def _quote(answer: str) -> str:
    """The answer as a message quotes it: on one line, short."""
    flat = " ".join(answer.split())
    return flat if len(flat) <= _MESSAGE_ANSWER else flat[: _MESSAGE_ANSWER - 1] + "…"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _path_secrets(url: str) -> tuple[str, ...]:
    """The parts of `url` that must not be shown: the URL itself and what follows its host."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return (url,)
    return (url, parsed.raw_path.decode("ascii", "replace"), parsed.path, parsed.userinfo.decode("ascii", "replace"))


def message_id(key: str) -> str:
    """The ``Message-ID`` of an email delivery: its idempotency key made a valid, stable msg-id.

    Letters, digits, ``-`` and ``_`` stay; every other byte becomes ``=XX`` (``acme::revenue``:
    ``acme=3A=3Arevenue``), so distinct keys stay distinct and the same key gives the same id.
    """
    safe = "".join(
        ch if (ch.isascii() and (ch.isalnum() or ch in "-_")) else "".join(f"={b:02X}" for b in ch.encode())
        for ch in key
    )
    return f"<{safe or '=00'}@semsync>"


class Transports:
    """The three ways out, sharing one settings group and (for Slack and webhooks) one HTTP client."""

    def __init__(self, settings: NotifySettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=settings.timeout_s, follow_redirects=False)

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it (a client passed in is its owner's)."""
        if self._owns_http:
            await self._http.aclose()

    # -- email ---------------------------------------------------------------------------------

    async def email(self, recipients: list[str], content: EmailContent, *, key: str) -> DeliveryReceipt:
        """Send `content` to `recipients` by SMTP, as one message with ``Message-ID: <key@semsync>``.

        SMTP 4xx replies (421, 450, 451, 452), timeouts and dropped connections are transient; 5xx
        (550 no such user, 553, 554, 535 bad credentials) are final. When the server refuses some
        recipients and accepts the others, the send succeeds and the receipt's `refused` names them.
        """
        return await _send_email(self.settings, recipients, content, key)

    # -- HTTP: Slack and webhooks --------------------------------------------------------------

    async def slack(self, webhook_url: str, payload: dict, *, key: str) -> DeliveryReceipt:
        """POST `payload` (``{"text": …, "blocks": […]}``) to a Slack incoming webhook.

        Slack answers 200 ``ok``; its refusals are 4xx with a short code (``invalid_payload``,
        ``no_service``, ``channel_not_found``, ``channel_is_archived``, ``action_prohibited``) and
        are final; 429 (with ``Retry-After``) and 5xx are transient. Slack itself ignores
        ``Idempotency-Key``; it is sent so a proxy or a test receiver can tell the duplicates.
        """
        return await self._post(
            "Slack",
            webhook_url,
            content=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
            secrets=_path_secrets(webhook_url),
        )

    async def webhook(self, url: str, secret: str, body: dict, *, key: str) -> DeliveryReceipt:
        """POST `body` as compact JSON to `url`, signed with `secret` (see `semsync.notify.signing`).

        Any 2xx is success; 408, 425, 429 and 5xx are transient; 3xx and other 4xx are final.
        """
        content = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, content),
        }
        return await self._post("webhook", url, content=content, headers=headers, secrets=(*_path_secrets(url), secret))

    async def _post(
        self, kind: str, url: str, *, content: bytes, headers: dict[str, str], secrets: tuple[str, ...]
    ) -> DeliveryReceipt:
        where = f"{kind} at {_origin(url)}"
        failure: DeliveryError | None = None
        response: httpx.Response | None = None
        # The error is built here and raised after the try: raised inside the except block, it would
        # carry the httpx exception (and with it the request and its URL) as its context.
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self._http.post(
                    url, content=content, headers=headers, timeout=self.settings.timeout_s, follow_redirects=False
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            failure = TransientDeliveryError(
                f"{where} did not answer within {self.settings.timeout_s:g} s ({_name(exc)})"
            )
        except httpx.UnsupportedProtocol:
            failure = FinalDeliveryError(f"{where}: not an http(s) URL")
        except httpx.InvalidURL:
            failure = FinalDeliveryError(f"{kind}: the URL is not valid")
        except httpx.TransportError as exc:
            reason = _clean(str(exc) or _name(exc), secrets)
            failure = TransientDeliveryError(f"{where} could not be reached: {_name(exc)}: {reason}")
        if failure is not None:
            raise failure
        assert response is not None
        return _judge(where, response, secrets)


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _judge(where: str, response: httpx.Response, secrets: tuple[str, ...]) -> DeliveryReceipt:
    """A receipt for a 2xx answer, else the error its status means."""
    status = response.status_code
    kind = classify_status(status)
    answer = _cut(_clean(response.text, secrets))
    if kind is StatusClass.SUCCESS:
        return DeliveryReceipt(status_code=status, answer=answer)
    said = f"{where} answered {status}" + (f": {_quote(answer)}" if answer.strip() else "")
    if kind is StatusClass.REDIRECT:
        location = response.headers.get("Location")
        target = _origin(str(response.url.join(location))) if location else "an unnamed place"
        # a signed body goes to the host it was configured for, or nowhere
        raise FinalDeliveryError(
            f"{where}: the receiver redirected to {target} ({status}); redirects are not followed, "
            "fix the configured URL",
            status_code=status,
            answer=answer,
        )
    if kind is StatusClass.TRANSIENT:
        raise TransientDeliveryError(
            said, status_code=status, answer=answer, retry_after=_retry_after(response.headers.get("Retry-After"))
        )
    raise FinalDeliveryError(said, status_code=status, answer=answer)


# -- email -------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    """A header value from data: line breaks would end the header (and inject new ones)."""
    return " ".join(text.splitlines()).strip()


def build_email(settings: NotifySettings, recipients: list[str], content: EmailContent, *, key: str) -> EmailMessage:
    """The multipart message of an email delivery (text, then HTML as the preferred alternative)."""
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = ", ".join(recipients)
    message["Subject"] = _one_line(content.subject)
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = message_id(key)
    message["X-Semsync-Idempotency-Key"] = _one_line(key)
    message.set_content(content.text)
    message.add_alternative(content.html, subtype="html")
    return message


async def _send_email(
    settings: NotifySettings, recipients: list[str], content: EmailContent, key: str
) -> DeliveryReceipt:
    where = f"SMTP server {settings.smtp_host}:{settings.smtp_port}"
    if not recipients:
        raise FinalDeliveryError("an email delivery with no recipients")
    try:
        message = build_email(settings, recipients, content, key=key)
    except (ValueError, TypeError) as exc:  # a malformed From or recipient address
        raise FinalDeliveryError(f"the email could not be built: {exc}") from None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    secrets = (password,) if password else ()
    failure: DeliveryError | None = None
    try:
        async with asyncio.timeout(settings.timeout_s):
            refused, reply = await aiosmtplib.send(
                message,
                recipients=recipients,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user or None,
                password=password if settings.smtp_user else None,
                use_tls=settings.smtp_tls == "tls",
                start_tls=settings.smtp_tls == "starttls",
                timeout=settings.timeout_s,
            )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        failure = _all_refused(where, exc.recipients, secrets)
    except aiosmtplib.SMTPResponseException as exc:
        failure = _smtp_reply_error(where, exc, secrets)
    except (TimeoutError, aiosmtplib.SMTPTimeoutError) as exc:
        failure = TransientDeliveryError(f"{where} did not answer within {settings.timeout_s:g} s ({_name(exc)})")
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as exc:
        if isinstance(exc, ssl.SSLError) or isinstance(exc.__cause__, ssl.SSLError):
            # `tls` against a plain port, or a certificate not trusted: only configuration fixes it
            failure = FinalDeliveryError(
                f"{where}: TLS failed ({_clean(str(exc), secrets)}); check smtp_tls and the server's certificate"
            )
        else:
            failure = TransientDeliveryError(f"{where} could not be reached: {_name(exc)}: {_clean(str(exc), secrets)}")
    except aiosmtplib.SMTPException as exc:  # STARTTLS or AUTH not offered: configuration
        failure = FinalDeliveryError(f"{where}: {_clean(str(exc), secrets)}")
    if failure is not None:
        raise failure
    answer = _cut(_clean(reply, secrets))
    if not refused:
        return DeliveryReceipt(status_code=250, answer=answer)
    # Some recipients refused, the others accepted: the message is delivered to those, and a retry
    # would send them a second copy. A refusal is mostly 5xx (a wrong address: the catalog needs
    # fixing); even a 4xx one is not worth a copy to everyone else. So: a success whose receipt names
    # the refused addresses, for the operator (or a delivery to just them, the caller's choice).
    named = [f"{address}: {r.code} {_quote(_clean(r.message, secrets))}" for address, r in sorted(refused.items())]
    return DeliveryReceipt(
        status_code=250, answer=_cut(f"{answer} (refused: {'; '.join(named)})"), refused=sorted(refused)
    )


def _smtp_reply_error(where: str, exc: aiosmtplib.SMTPResponseException, secrets: tuple[str, ...]) -> DeliveryError:
    """An SMTP error reply: 4xx transient, 5xx (and anything else) final."""
    answer = _cut(_clean(f"{exc.code} {exc.message}", secrets))
    what = {
        aiosmtplib.SMTPAuthenticationError: "refused the login",
        aiosmtplib.SMTPSenderRefused: "refused the sender",
        aiosmtplib.SMTPDataError: "refused the message",
        aiosmtplib.SMTPHeloError: "refused the greeting",
    }.get(type(exc), "answered")
    said = f"{where} {what}: {_quote(answer)}"
    if 400 <= exc.code < 500:
        return TransientDeliveryError(said, status_code=exc.code, answer=answer)
    return FinalDeliveryError(said, status_code=exc.code, answer=answer)


def _all_refused(
    where: str, refusals: list[aiosmtplib.SMTPRecipientRefused], secrets: tuple[str, ...]
) -> DeliveryError:
    """Every recipient refused: final, unless one refusal was temporary (4xx) and a retry may pass."""
    named = "; ".join(f"{r.recipient}: {r.code} {_quote(_clean(r.message, secrets))}" for r in refusals)
    said = f"{where} refused every recipient ({named})"
    codes = [r.code for r in refusals]
    status = max(codes) if codes else None
    if any(400 <= code < 500 for code in codes):
        return TransientDeliveryError(said, status_code=min(codes), answer=_cut(named))
    return FinalDeliveryError(said, status_code=status, answer=_cut(named))
