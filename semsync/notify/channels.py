"""A tenant's `notifications` in the catalog: where its stories go (channels) and which (rules).

    notifications:
      timezone: Europe/Berlin        # digests go out at `digest_time` there (DST-correct)
      digest_time: "08:00"
      digest_top: 3                  # stories per metric in a digest
      report_url: https://semsync.example/report/{tenant}/{metric}   # optional; {tenant} {metric} {grain}
      channels:
        - {id: ops, type: slack, webhook_url: https://hooks.slack.com/services/T0/B0/XXXX}
        - {id: finance, type: email, recipients: [cfo@acme.example]}
        - {id: pager, type: webhook, url: https://hooks.acme.example/semsync, secret: <32+ chars>,
           max_alerts_per_hour: 20}
      rules:
        - {id: bad-daily, channels: [ops, pager], metrics: ["revenue", "conv*"], grains: [day],
           polarity: [bad], min_salience: 0.5, mode: alert}
        - {id: everything-weekly, channels: [finance], grains: [week], mode: digest}

A channel's URL and signing secret are secrets: `SecretStr` here (masked in every dump and log),
sealed with the tenant's connection key at rest (`semsync.catalog.store`), and read only by the
delivery activities, never carried in a workflow's input or result. The SMTP server is the
deployment's (`SEMSYNC_NOTIFY__SMTP_*`), not the catalog's: a catalog names recipients only.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from semsync.http import url_policy
from semsync.partitions import Grain
from semsync.stories.model import Genre, Polarity, Story

CHANNEL_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: the least a webhook's signing secret may be (HMAC-SHA256: 32 bytes of key strength)
MIN_SECRET_LENGTH = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def checked_url(url: str) -> str:
    """`url` if a delivery may go to it: ``https://``, or ``http://`` to a loopback host (a receiver on
    the same machine), never a link-local or metadata address (`semsync.http.url_policy`); the URL itself is
    never part of the message (it is a secret)."""
    return url_policy.checked_url(url)


def _deliverable(value: SecretStr) -> SecretStr:
    checked_url(value.get_secret_value())
    return value


#: a channel's address: a secret, and one a delivery may go to (`checked_url`)
SecretURL = Annotated[SecretStr, AfterValidator(_deliverable)]


class _Channel(_Strict):
    id: str = Field(pattern=CHANNEL_ID)
    #: alerts this channel takes in any hour; beyond it they fold into the next digest (never dropped)
    max_alerts_per_hour: int | None = Field(None, ge=1)


class SlackChannel(_Channel):
    type: Literal["slack"] = "slack"
    #: the incoming webhook's URL (https://hooks.slack.com/services/…): a secret
    webhook_url: SecretURL


class EmailChannel(_Channel):
    type: Literal["email"] = "email"
    recipients: list[str] = Field(min_length=1)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        normalised = []
        for address in value:
            try:
                normalised.append(validate_email(address, check_deliverability=False).normalized)
            except EmailNotValidError as exc:
                raise ValueError(f"{address!r} is not an email address: {exc}") from None
        return normalised


class WebhookChannel(_Channel):
    type: Literal["webhook"] = "webhook"
    url: SecretURL
    #: signs every request (HMAC-SHA256 of the timestamp and the body): a secret
    secret: SecretStr

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"is shorter than {MIN_SECRET_LENGTH} characters: `openssl rand -hex 32` makes one")
        return value


ChannelDef = Annotated[SlackChannel | EmailChannel | WebhookChannel, Field(discriminator="type")]


def _story_types() -> list[str]:
    from semsync.stories.templates import story_types

    return story_types()


class NotificationRule(_Strict):
    """Which stories go to which channels, and how: as an alert when new, or in the digest."""

    id: str = Field(pattern=CHANNEL_ID)
    channels: list[str] = Field(min_length=1)
    #: metric ids or globs (``conv*``); default every metric
    metrics: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    grains: list[Grain] = Field(default_factory=lambda: list(Grain))
    #: genres (status, growth, trend, record, segment, forecast, drift); empty: every genre
    genres: list[Genre] = Field(default_factory=list)
    #: story types or globs (``likely_off_track_*``); empty: every type
    story_types: list[str] = Field(default_factory=list)
    #: e.g. [bad]; empty: every polarity
    polarity: list[Polarity] = Field(default_factory=list)
    min_salience: float = Field(0.0, ge=0, le=1)
    mode: Literal["alert", "digest"] = "alert"
    #: alerts only: stories dated more than this many days before today are not alerted (a backfill of
    #: old history then sends nothing); unset: every new story, however old
    max_age_days: int | None = Field(None, ge=0)

    @field_validator("story_types")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        known = _story_types()
        for pattern in value:
            if not fnmatch.filter(known, pattern):
                raise ValueError(f"{pattern!r} matches no story type; the types are listed in the README's "
                                 "stories section (e.g. spike, level_shift_up, likely_off_track_month)")
        return value

    def takes(self, story: Story) -> bool:
        """Whether this rule takes `story` (`selects` on its fields)."""
        return self.selects(metric=story.metric, grain=story.grain.value, genre=story.genre.value,
                            story_type=story.story_type, polarity=story.polarity.value, salience=story.salience)

    def selects(self, *, metric: str, grain: str, genre: str, story_type: str, polarity: str,
                salience: float) -> bool:
        """Whether this rule takes a story with these fields."""
        return (grain in self.grains and salience >= self.min_salience
                and any(fnmatch.fnmatchcase(metric, m) for m in self.metrics)
                and (not self.genres or genre in self.genres)
                and (not self.story_types or any(fnmatch.fnmatchcase(story_type, t) for t in self.story_types))
                and (not self.polarity or polarity in self.polarity))


class Notifications(_Strict):
    #: the tenant's time zone (IANA), for the digests' local time and the dates they name
    timezone: str = "UTC"
    #: when the digests go out, local time: daily ones every day, weekly ones on Mondays, monthly on the 1st
    digest_time: time = time(8, 0)
    #: stories per metric in a digest (the most salient)
    digest_top: int = Field(3, ge=1, le=20)
    #: the report's address ({tenant}, {metric}, {grain}); default the deployment's `SEMSYNC_NOTIFY__REPORT_URL`
    report_url: str | None = None
    channels: list[ChannelDef] = Field(default_factory=list)
    rules: list[NotificationRule] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            near = [z for z in sorted(available_timezones()) if z.lower().endswith(value.lower().split("/")[-1])]
            hint = f" (did you mean {near[0]}?)" if near else " (an IANA name such as Europe/Berlin)"
            raise ValueError(f"unknown time zone {value!r}{hint}") from None
        return value

    @field_validator("digest_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: object) -> object:
        if isinstance(value, int):  # YAML 1.1 reads an unquoted 08:00 as sexagesimal 480
            return time(value // 60, value % 60) if 0 <= value < 24 * 60 else value
        if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (e.g. \"08:00\")")
        return value

    @model_validator(mode="after")
    def _references(self) -> Notifications:
        repeated = sorted(k for k, n in Counter(c.id for c in self.channels).items() if n > 1)
        if repeated:
            raise ValueError(f"duplicate channel ids: {', '.join(repeated)}")
        repeated = sorted(k for k, n in Counter(r.id for r in self.rules).items() if n > 1)
        if repeated:
            raise ValueError(f"duplicate rule ids: {', '.join(repeated)}")
        return self

    def channel(self, channel_id: str) -> SlackChannel | EmailChannel | WebhookChannel:
        for c in self.channels:
            if c.id == channel_id:
                return c
        raise KeyError(channel_id)

    def link(self, default: str | None, *, tenant: str, metric: str = "", grain: str = "") -> str | None:
        template = self.report_url or default
        if not template:
            return None
        return template.replace("{tenant}", tenant).replace("{metric}", metric).replace("{grain}", grain)
