"""Where semsync may send a request that carries a credential: one rule for every outbound URL.

A tenant's Cube token, the HTTP catalog's client secret and a webhook's signed body go only to

- ``https://`` URLs, or ``http://`` to a loopback host (a service on the same machine), or ``http://``
  to a host the operator listed (`SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS=cube,cube.internal`, for a
  compose network or a sidecar; the Cube connections and the HTTP catalog's URLs honour it, the
  notification channels do not: they leave the deployment);
- never a link-local address (169.254.0.0/16, fe80::/10) or a cloud metadata service
  (169.254.169.254, ``metadata.google.internal``, fd00:ec2::254), whatever the scheme or the list:
  a worker's request there can hand out the machine's cloud credentials.

The check is on the URL as written (a host name is not resolved here). Messages name the host, never
the whole URL: it may carry a password or a secret path.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

#: the setting that lists hosts allowed over plain http (comma-separated)
ALLOW_HTTP_HOSTS_SETTING = "SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS"

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def is_forbidden(host: str) -> bool:
    """A link-local address or a cloud metadata service: never a destination."""
    if host.rstrip(".").lower() in METADATA_HOSTS:
        return True
    address = _address(host)
    return address is not None and (address.is_link_local or address in METADATA_ADDRESSES)


def checked_url(url: str, *, allow_http_hosts: Collection[str] = (), credentials_in_url: bool = False,
                allow_list_setting: str | None = None) -> str:
    """`url` if a request with a credential may go to it, else ValueError saying why (naming the host).

    `allow_http_hosts`: host names (lower case) allowed over ``http://`` besides loopback ones;
    `allow_list_setting` is the setting that lists them, named in the message; `credentials_in_url`:
    whether a ``user:password@`` part is acceptable."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # an unclosed [IPv6 address
        raise ValueError("is not an http(s) URL with a host") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError("is not an http(s) URL with a host")
    if is_forbidden(host):
        raise ValueError(f"points at {host}, a link-local or cloud metadata address: never allowed")
    if parts.scheme == "http" and not is_loopback(host) and host.lower() not in allow_http_hosts:
        also = f" or a host listed in {allow_list_setting}" if allow_list_setting else ""
        raise ValueError(f"sends in clear text to {host}: use https:// (http:// only to a loopback host{also})")
    if not credentials_in_url and (parts.username or parts.password):
        raise ValueError("carries a user or password: a webhook authenticates by its signature, not the URL")
    return url


def parse_hosts(value: str) -> frozenset[str]:
    """``"cube, Cube.internal"`` → ``{"cube", "cube.internal"}``."""
    return frozenset(host.strip().lower() for host in value.split(",") if host.strip())


def allowed_http_hosts() -> frozenset[str]:
    """The deployment's `ALLOW_HTTP_HOSTS_SETTING`, read when a URL needs it (a catalog model is
    validated in the CLI, the worker and on reading the catalog back from the database, all of which
    run with the deployment's settings; a loopback or https URL never reads them)."""
    from semsync.config import get_settings  # late: the models load before, and without, settings

    return parse_hosts(get_settings().semantic_layer.allow_http_hosts)


def checked_service_url(url: str, *, credentials_in_url: bool = False) -> str:
    """`checked_url` with the deployment's allow-list: a Cube API or an HTTP catalog service."""
    try:
        return checked_url(url, credentials_in_url=credentials_in_url, allow_list_setting=ALLOW_HTTP_HOSTS_SETTING)
    except ValueError:
        hosts = allowed_http_hosts()  # only now: most URLs never need the settings
        if not hosts:
            raise
        return checked_url(url, allow_http_hosts=hosts, credentials_in_url=credentials_in_url,
                           allow_list_setting=ALLOW_HTTP_HOSTS_SETTING)
