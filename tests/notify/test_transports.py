"""Sending one message to real local receivers: success, the signature, and which failures are worth a retry."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from devstack import free_port
from semsync.config import NotifySettings
from semsync.notify.content import EmailContent
from semsync.notify.transports import (
    FinalDeliveryError,
    TransientDeliveryError,
    Transports,
    sign,
    verify,
)
from tests.notify.receivers import HttpReceiver, Reply, SmtpReceiver

HOOK_PATH = "/services/T0123ABCD/B0456EFGH/s3cretTokenXYZ"
SIGNING_SECRET = "whsec-do-not-print-4f1c"
PAYLOAD = {
    "text": "Revenue fell 12% on 6 July",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
}
BODY = {"kind": "alert", "tenant": "acme", "story": {"headline": "Revenue fell 12% — in Zürich"}}
CONTENT = EmailContent(
    subject="acme: Revenue fell 12%", text="Revenue fell 12%.", html="<p>Revenue <b>fell</b> 12%.</p>"
)


def settings(**overrides) -> NotifySettings:
    return NotifySettings(**{"smtp_tls": "none", "timeout_s": 3.0, **overrides})


@pytest.fixture
async def transports():
    transports = Transports(settings())
    yield transports
    await transports.aclose()


@pytest.fixture
async def make_transports():
    """Transports of given settings, closed at the test's end."""
    made: list[Transports] = []

    def make(chosen: NotifySettings) -> Transports:
        made.append(Transports(chosen))
        return made[-1]

    yield make
    for transports in made:
        await transports.aclose()


@pytest.fixture
async def http():
    async with HttpReceiver() as receiver:
        yield receiver


def smtp_settings(smtp: SmtpReceiver, **overrides) -> NotifySettings:
    return settings(smtp_host=smtp.host, smtp_port=smtp.port, **overrides)


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in (HOOK_PATH, "s3cretTokenXYZ", SIGNING_SECRET):
            assert secret not in str(text), text


# -- success -------------------------------------------------------------------------------------


async def test_slack_posts_the_payload_with_the_key(transports, http):
    receipt = await transports.slack(http.url(HOOK_PATH), PAYLOAD, key="acme/alert/1")

    assert (receipt.status_code, receipt.answer) == (200, "ok")
    [request] = http.received(HOOK_PATH)
    assert json.loads(request.body) == PAYLOAD
    assert request.headers["content-type"] == "application/json"
    assert request.key == "acme/alert/1"
    assert_no_secret(receipt)


async def test_webhook_is_signed_over_the_exact_bytes(transports, http):
    receipt = await transports.webhook(http.url("/hooks/acme?tenant=acme"), SIGNING_SECRET, BODY, key="k-1")

    assert receipt.status_code == 200
    [request] = http.received("/hooks/acme")
    assert request.body == json.dumps(BODY, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    assert "Zürich".encode() in request.body  # UTF-8, not \u escapes
    assert request.key == "k-1"
    timestamp, signature = request.headers["x-semsync-timestamp"], request.headers["x-semsync-signature"]
    assert abs(int(timestamp) - time.time()) < 60
    assert signature.startswith("v1=")
    assert verify(SIGNING_SECRET, timestamp, signature, request.body)
    # what a receiver must refuse: a changed body, another secret, an old request replayed
    assert not verify(SIGNING_SECRET, timestamp, signature, request.body.replace(b"12%", b"13%"))
    assert not verify("another-secret", timestamp, signature, request.body)
    assert not verify(SIGNING_SECRET, timestamp, signature, request.body, now=int(timestamp) + 301)
    assert not verify(SIGNING_SECRET, "not-a-time", signature, request.body)
    assert not verify(SIGNING_SECRET, timestamp, "", request.body)


def test_verify_accepts_any_of_several_signatures_within_tolerance():
    body, now = b'{"a":1}', 1_750_000_000
    both = f"v1=deadbeef, {sign(SIGNING_SECRET, now, body)}"
    assert verify(SIGNING_SECRET, str(now), both, body, now=now + 299)
    assert not verify(SIGNING_SECRET, str(now), both, body, now=now - 301)


async def test_email_is_multipart_with_the_key_as_message_id(make_transports):
    with SmtpReceiver() as smtp:
        transports = make_transports(smtp_settings(smtp, email_from="semsync <alerts@example.org>"))
        receipt = await transports.email(["ana@example.org", "bo@example.org"], CONTENT, key="acme/digest/2025-07-06")

    assert receipt.status_code == 250 and receipt.refused == []
    [received] = smtp.received()
    assert received.rcpt_tos == ["ana@example.org", "bo@example.org"]
    assert received.message["From"] == "semsync <alerts@example.org>"
    assert received.subject == CONTENT.subject
    assert received.message_id == "<acme=2Fdigest=2F2025-07-06@semsync>"
    assert received.message["X-Semsync-Idempotency-Key"] == "acme/digest/2025-07-06"
    assert received.message["Date"]
    assert received.part("text/plain").strip() == CONTENT.text
    assert received.part("text/html").strip() == CONTENT.html


async def test_the_same_key_gives_the_same_message_id(make_transports):
    with SmtpReceiver() as smtp:
        transports = make_transports(smtp_settings(smtp))
        for key in ("acme::revenue/day/2025-07-06", "acme::revenue/day/2025-07-06", "acme::revenue/day/2025-07-07"):
            await transports.email(["ana@example.org"], CONTENT, key=key)

    assert smtp.duplicates() == {"<acme=3A=3Arevenue=2Fday=2F2025-07-06@semsync>": 2}
    assert len(smtp.unique_keys()) == 2


# -- failures over HTTP --------------------------------------------------------------------------


async def send(transports: Transports, kind: str, url: str):
    if kind == "slack":
        return await transports.slack(url, PAYLOAD, key="k")
    return await transports.webhook(url, SIGNING_SECRET, BODY, key="k")


@pytest.mark.parametrize("kind", ["slack", "webhook"])
@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(500, "internal_error"), TransientDeliveryError),
        (Reply(503, "service unavailable"), TransientDeliveryError),
        (Reply(408, ""), TransientDeliveryError),
        (Reply(400, "invalid_payload"), FinalDeliveryError),
        (Reply(403, "action_prohibited"), FinalDeliveryError),
        (Reply(404, "no_service"), FinalDeliveryError),
        (Reply(404, "channel_not_found"), FinalDeliveryError),
        (Reply(410, "channel_is_archived"), FinalDeliveryError),
    ],
)
async def test_http_failures_are_told_apart(transports, http, kind, reply, error):
    http.set_reply(HOOK_PATH, reply)

    with pytest.raises(error) as caught:
        await send(transports, kind, http.url(HOOK_PATH))

    assert caught.value.status_code == reply.status
    assert caught.value.answer == reply.body
    assert caught.value.retryable is (error is TransientDeliveryError)
    assert str(reply.status) in str(caught.value) and reply.body in str(caught.value)
    assert "http://127.0.0.1:" in str(caught.value)
    assert_no_secret(caught.value, caught.value.answer, repr(caught.value))


@pytest.mark.parametrize("kind", ["slack", "webhook"])
async def test_429_is_transient_with_the_receivers_wait(transports, http, kind):
    http.set_reply(HOOK_PATH, Reply(429, "rate_limited", {"Retry-After": "7"}))

    with pytest.raises(TransientDeliveryError) as caught:
        await send(transports, kind, http.url(HOOK_PATH))

    assert (caught.value.status_code, caught.value.retry_after) == (429, 7.0)


@pytest.mark.parametrize("kind", ["slack", "webhook"])
async def test_a_redirect_is_final_and_not_followed(transports, http, kind):
    async with HttpReceiver() as elsewhere:
        http.set_reply(HOOK_PATH, Reply(307, "", {"Location": elsewhere.url("/collect?token=abc")}))

        with pytest.raises(FinalDeliveryError) as caught:
            await send(transports, kind, http.url(HOOK_PATH))

    assert elsewhere.received() == []
    assert f"redirected to {elsewhere.base_url} " in str(caught.value)
    assert "collect" not in str(caught.value)
    assert_no_secret(caught.value)


async def test_a_slow_receiver_is_a_transient_timeout(make_transports):
    transports = make_transports(settings(timeout_s=0.3))
    async with HttpReceiver(delay_s=2.0) as slow:
        with pytest.raises(TransientDeliveryError) as caught:
            await transports.webhook(slow.url(HOOK_PATH), SIGNING_SECRET, BODY, key="k")

    assert "did not answer within 0.3 s" in str(caught.value)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("kind", ["slack", "webhook"])
async def test_a_refused_connection_is_transient(transports, kind):
    with pytest.raises(TransientDeliveryError) as caught:
        await send(transports, kind, f"http://127.0.0.1:{free_port()}{HOOK_PATH}")

    assert "could not be reached" in str(caught.value) and caught.value.status_code is None
    assert_no_secret(caught.value, repr(caught.value))
    assert caught.value.__cause__ is None and caught.value.__context__ is None


async def test_answers_are_cut_and_masked_and_never_echo_the_url(transports, http):
    echo = f"hook {http.url(HOOK_PATH)} failed; token=abc123 " + "x" * 5000 + " END"
    http.set_reply(HOOK_PATH, Reply(500, echo))

    with pytest.raises(TransientDeliveryError) as caught:
        await transports.webhook(http.url(HOOK_PATH), SIGNING_SECRET, BODY, key="k")

    answer = caught.value.answer
    assert 1000 <= len(answer) <= 1100
    assert answer.startswith("hook ") and answer.endswith("x END")
    assert "token=***" in answer and "abc123" not in answer
    assert len(str(caught.value)) < 400
    assert_no_secret(caught.value, answer)


async def test_a_flaky_receiver_sees_every_key_accepted_once(transports):
    """Retrying transient failures until success: each key is accepted exactly once."""
    keys = [f"acme/alert/{n}" for n in range(40)]

    async def deliver(key: str, url: str) -> None:
        for _ in range(100):
            try:
                await transports.slack(url, PAYLOAD, key=key)
                return
            except TransientDeliveryError:
                continue
        raise AssertionError(f"{key} never accepted")

    async with HttpReceiver(fail_rate=0.3, seed=11) as flaky:
        await asyncio.gather(*(deliver(key, flaky.url(HOOK_PATH)) for key in keys))

    assert flaky.unique_keys() == set(keys) and flaky.duplicates() == {}
    failed = [r for r in flaky.received() if not r.ok]
    assert failed and {r.status for r in failed} <= {500, 503}
    assert len(flaky.received()) == len(keys) + len(failed)


# -- failures over SMTP --------------------------------------------------------------------------


async def test_smtp_451_is_transient(make_transports):
    with SmtpReceiver(fail_rate=1.0) as smtp:
        with pytest.raises(TransientDeliveryError) as caught:
            await make_transports(smtp_settings(smtp)).email(["ana@example.org"], CONTENT, key="k")

    assert caught.value.status_code == 451 and "try again later" in str(caught.value)
    assert smtp.received() == []


async def test_a_refused_recipient_is_final_and_named(make_transports):
    with SmtpReceiver(refuse={"gone@example.org"}) as smtp:
        with pytest.raises(FinalDeliveryError) as caught:
            await make_transports(smtp_settings(smtp)).email(["gone@example.org"], CONTENT, key="k")

    assert caught.value.status_code == 550
    assert "gone@example.org: 550" in str(caught.value) and "no such user" in str(caught.value)


async def test_some_recipients_refused_is_a_success_that_names_them(make_transports):
    """The others got the message: a retry would send them a second copy, so the send succeeds."""
    with SmtpReceiver(refuse={"gone@example.org"}) as smtp:
        transports = make_transports(smtp_settings(smtp))
        receipt = await transports.email(["ana@example.org", "gone@example.org"], CONTENT, key="k")

    assert receipt.refused == ["gone@example.org"]
    assert "gone@example.org: 550" in receipt.answer
    [received] = smtp.received()
    assert received.rcpt_tos == ["ana@example.org"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # a test server on 127.0.0.1
async def test_smtp_bad_credentials_are_final_and_the_password_is_not_shown(make_transports):
    with SmtpReceiver(users={"semsync": "right-password"}) as smtp:
        transports = make_transports(smtp_settings(smtp, smtp_user="semsync", smtp_password="wrong-password"))
        with pytest.raises(FinalDeliveryError) as caught:
            await transports.email(["ana@example.org"], CONTENT, key="k")
        good = make_transports(smtp_settings(smtp, smtp_user="semsync", smtp_password="right-password"))
        receipt = await good.email(["ana@example.org"], CONTENT, key="k")

    assert caught.value.status_code == 535
    assert "wrong-password" not in str(caught.value) + caught.value.answer
    assert receipt.status_code == 250 and len(smtp.received()) == 1


async def test_an_unreachable_smtp_server_is_transient(make_transports):
    transports = make_transports(settings(smtp_host="127.0.0.1", smtp_port=free_port()))
    with pytest.raises(TransientDeliveryError) as caught:
        await transports.email(["ana@example.org"], CONTENT, key="k")

    assert "could not be reached" in str(caught.value)


@pytest.mark.parametrize(("tls", "said"), [("tls", "TLS failed"), ("starttls", "STARTTLS extension not supported")])
async def test_a_tls_mismatch_is_final(make_transports, tls, said):
    with SmtpReceiver() as plain:
        with pytest.raises(FinalDeliveryError) as caught:
            await make_transports(smtp_settings(plain, smtp_tls=tls)).email(["ana@example.org"], CONTENT, key="k")

    assert said in str(caught.value) and plain.received() == []


async def test_an_email_without_recipients_is_final(transports):
    with pytest.raises(FinalDeliveryError):
        await transports.email([], CONTENT, key="k")
