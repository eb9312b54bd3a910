"""The YAML file catalog: what it accepts, and errors that name the file, the entry and the field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from semsync.catalog.file import FileCatalog, read_catalog_file
from semsync.catalog.models import CubeConnection, SqlMetricSource
from semsync.errors import CatalogError

VALID = """\
tenants:
  - identifier: acme
    name: Acme
    semantic_layer: {type: cube, cube_api_url: "http://127.0.0.1:4000", token: tok}
    metrics:
      - id: revenue
        label: Revenue
        source: {type: cube, measure: orders.revenue, time_dimension: orders.created_at}
  - identifier: globex
    name: Globex
    metrics:
      - id: revenue
        label: Revenue
        source: {type: sql, table: warehouse.sales, value: sum(amount), time_column: sold_at}
        dimensions: [{id: region, member: region}]
  - identifier: initech
    name: Initech
    sync_enabled: false
"""


def write(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(content))
    return path


def error_of(path: Path) -> CatalogError:
    with pytest.raises(CatalogError) as info:
        read_catalog_file(path)
    return info.value


async def test_valid_file_loads_and_provider_returns_only_sync_enabled_tenants(tmp_path):
    path = write(tmp_path, VALID)
    everything = read_catalog_file(path)
    assert [t.identifier for t in everything.tenants] == ["acme", "globex", "initech"]
    assert isinstance(everything.tenants[0].semantic_layer, CubeConnection)
    assert isinstance(everything.tenants[1].metric("revenue").source, SqlMetricSource)
    loaded = await FileCatalog(path).load()
    assert [t.identifier for t in loaded.tenants] == ["acme", "globex"]


def test_missing_field_names_file_entry_field_and_line(tmp_path):
    path = write(tmp_path, VALID.replace("value: sum(amount), ", ""))
    error = error_of(path)
    assert str(error) == f"{path}:14: tenants[1] (globex) metrics[0] (revenue) source.value: Field required"
    assert error.part == "tenants[1] (globex) metrics[0] (revenue) source.value"


def test_bad_identifier(tmp_path):
    error = error_of(write(tmp_path, VALID.replace("identifier: globex", "identifier: glo bex")))
    assert "tenants[1] (glo bex) identifier: 'glo bex' is not a valid identifier" in str(error)
    assert error.value == "glo bex"


def test_duplicate_metric_id(tmp_path):
    duplicated = VALID.replace(
        "  - identifier: globex",
        "      - id: revenue\n        label: Again\n"
        "        source: {type: cube, measure: orders.x, time_dimension: orders.created_at}\n"
        "  - identifier: globex",
    )
    path = write(tmp_path, duplicated)
    assert str(error_of(path)) == f"{path}:2: tenants[0] (acme): duplicate metric ids: revenue"


def test_duplicate_tenant(tmp_path):
    path = write(tmp_path, VALID.replace("identifier: initech", "identifier: acme"))
    assert str(error_of(path)) == f"{path}:1: (top level): duplicate tenant identifiers: acme"


def test_duplicate_dimension_and_target(tmp_path):
    content = VALID.replace(
        "dimensions: [{id: region, member: region}]",
        "dimensions: [{id: region, member: region}, {id: region, member: area}]",
    )
    error = error_of(write(tmp_path, content))
    assert "tenants[1] (globex) metrics[0] (revenue): duplicate dimension ids: region" in str(error)

    content = VALID.replace(
        "dimensions: [{id: region, member: region}]",
        "targets: [{grain: month, target_date: 2025-07-01, target_value: 1},"
        " {grain: month, target_date: 2025-07-01, target_value: 2}]",
    )
    error = error_of(write(tmp_path, content))
    assert "tenants[1] (globex) metrics[0] (revenue): duplicate targets: month 2025-07-01" in str(error)


def test_unknown_source_type(tmp_path):
    error = error_of(write(tmp_path, VALID.replace("{type: sql, table", "{type: snowflake, table")))
    assert str(error).endswith(
        "tenants[1] (globex) metrics[0] (revenue) source.type: unknown type 'snowflake'; expected one of 'cube', 'sql'"
    )


def test_misspelt_field_and_wrong_type_are_all_reported(tmp_path):
    content = VALID.replace(
        "        label: Revenue\n        source: {type: sql", "        lable: Revenue\n        source: {type: sql"
    )
    content = content.replace("sync_enabled: false", "sync_enabled: maybe")
    lines = str(error_of(write(tmp_path, content))).splitlines()
    assert any("tenants[1] (globex) metrics[0] (revenue) label: Field required" in line for line in lines)
    assert any("tenants[1] (globex) metrics[0] (revenue) lable: unknown field" in line for line in lines)
    assert any(":18: tenants[2] (initech) sync_enabled: Input should be a valid boolean" in line for line in lines)


def test_cube_connection_without_its_credential(tmp_path):
    error = error_of(write(tmp_path, VALID.replace(", token: tok}", ", auth_type: SECRET_KEY}")))
    assert "tenants[0] (acme) semantic_layer: auth_type SECRET_KEY needs `secret_key`" in str(error)


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, VALID.replace("    name: Globex", "    name: Globex\n   oops: ["))
    error = error_of(path)
    assert str(error).startswith(f"{path}:11:4: invalid YAML: expected <block end>")
    assert error.part == "yaml"


@pytest.mark.parametrize(
    ("content", "expected"),
    [("", "the catalog is empty"), ("- acme\n", "expected a mapping with `tenants:`"), ("tenants: 3\n", "tenants: ")],
)
def test_not_a_catalog(tmp_path, content, expected):
    assert expected in str(error_of(write(tmp_path, content)))


def test_missing_file(tmp_path):
    error = error_of(tmp_path / "nope.yaml")
    assert str(error) == f"{tmp_path / 'nope.yaml'}: catalog file not found"


def test_a_repeated_key_is_refused_with_both_lines(tmp_path):
    path = write(tmp_path, VALID.replace("    name: Globex\n", "    name: Globex\n    name: Globex Corp\n"))
    error = error_of(path)
    assert str(error) == f"{path}:11: duplicate key 'name' (first at line 10)"
    assert error.part == "yaml"


def test_keys_next_to_a_yaml_merge_override_it(tmp_path):
    content = VALID.replace("tenants:\n", "x-cube: &cube {type: sql}\ntenants:\n").replace(
        "    name: Globex\n", "    name: Globex\n    semantic_layer: {<<: *cube, type: sql}\n")
    error = error_of(write(tmp_path, content))
    assert "x-cube: unknown field" in str(error) and "duplicate" not in str(error)


PATTERNS = VALID.replace("    name: Acme\n", """\
    name: Acme
    patterns:
      performance_status: {threshold_ratio: 0.1}
      forecasting: {min_periods: 14, aggregation: mean}
""").replace("        dimensions: [{id: region, member: region}]\n", """\
        dimensions: [{id: region, member: region}]
        patterns:
          dimension_analysis:
            top_n: 3
""")


def test_pattern_settings_are_read(tmp_path):
    catalog = read_catalog_file(write(tmp_path, PATTERNS))
    assert catalog.tenants[0].patterns["forecasting"] == {"min_periods": 14, "aggregation": "mean"}
    assert catalog.tenants[1].metric("revenue").patterns == {"dimension_analysis": {"top_n": 3}}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("performance_status:", "performance_stats:"),
         ":5: tenants[0] (acme) patterns.performance_stats: unknown pattern 'performance_stats'; known patterns are "
         "dimension_analysis, drift_detection, forecasting, historical_performance, performance_status"),
        (("threshold_ratio: 0.1", "threshold: 0.1"),
         ":5: tenants[0] (acme) patterns.performance_status.threshold: unknown setting of performance_status; "
         "its settings are lookback_day, lookback_week, lookback_month, threshold_ratio, hold_steady_ratio, "
         "min_streak_periods"),
        (("min_periods: 14", "min_periods: many"),
         ":6: tenants[0] (acme) patterns.forecasting.min_periods: "
         "Input should be a valid integer, unable to parse string as an integer"),
        (("aggregation: mean", "aggregation: median"),
         ":6: tenants[0] (acme) patterns.forecasting.aggregation: Input should be 'sum', 'mean' or 'last'"),
        (("top_n: 3", "top_n: 0"),
         ":21: tenants[1] (globex) metrics[0] (revenue) patterns.dimension_analysis.top_n: "
         "Input should be greater than or equal to 1"),
        (("top_n: 3", "direction: lower_is_better"),
         ":21: tenants[1] (globex) metrics[0] (revenue) patterns.dimension_analysis.direction: `direction` is the "
         "metric's, for all its patterns: set it on the metric"),
        (("top_n: 3", "[3]"), ":21: tenants[1] (globex) metrics[0] (revenue) patterns.dimension_analysis: "
                              "Input should be a valid dictionary"),
    ],
)
def test_pattern_settings_that_the_patterns_refuse(tmp_path, change, expected):
    path = write(tmp_path, PATTERNS.replace(*change))
    assert str(error_of(path)) == f"{path}{expected}"


def test_pattern_settings_errors_come_with_the_other_errors(tmp_path):
    content = PATTERNS.replace("top_n: 3", "top_n: -1").replace("label: Revenue\n        source: {type: sql",
                                                                 "source: {type: sql")
    lines = str(error_of(write(tmp_path, content))).splitlines()
    assert [line.split(": ", 2)[1] for line in lines] == [
        "tenants[1] (globex) metrics[0] (revenue) label",
        "tenants[1] (globex) metrics[0] (revenue) patterns.dimension_analysis.top_n",
    ]


@pytest.mark.parametrize(("key", "expected"), [
    ("short", "The HMAC key is 5 bytes long, which is below the minimum recommended length of 32 bytes"),
    ('""', "HMAC key must not be empty"),
])
def test_a_signing_key_hs256_cannot_use_is_refused_without_showing_it(tmp_path, key, expected):
    path = write(tmp_path, VALID.replace(", token: tok}", f", auth_type: SECRET_KEY, secret_key: {key}}}"))
    error = error_of(path)
    assert str(error).startswith(f"{path}:4: tenants[0] (acme) semantic_layer.secret_key: "
                                 f"cannot sign HS256 JWTs with this key: {expected}")
    assert error.value is None


def test_a_signing_key_of_32_bytes_is_accepted(tmp_path):
    path = write(tmp_path, VALID.replace(", token: tok}", f", auth_type: SECRET_KEY, secret_key: {'k' * 32}}}"))
    assert read_catalog_file(path).tenants[0].semantic_layer.secret_key.get_secret_value() == "k" * 32


def test_a_date_that_does_not_exist_is_a_yaml_error_at_its_line(tmp_path):
    path = write(tmp_path, VALID.replace("dimensions: [{id: region, member: region}]",
                                         "targets: [{grain: month, target_date: 2025-02-30, target_value: 1}]"))
    assert str(error_of(path)) == (f"{path}:15:47: invalid YAML: '2025-02-30' is not a date "
                                   "(day is out of range for month)")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://cube.acme.example:4000", "sends in clear text to cube.acme.example: use https:// (http:// only to a "
                                      "loopback host or a host listed in SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS)"),
    ("https://169.254.169.254/latest", "points at 169.254.169.254, a link-local or cloud metadata address"),
    ("http://metadata.google.internal", "points at metadata.google.internal, a link-local or cloud metadata"),
    ("https://[fe80::1]:4000", "points at fe80::1, a link-local"),
    ("https://[fd00:ec2::254]", "points at fd00:ec2::254, a link-local or cloud metadata address"),
    ("ftp://cube.acme.example", "is not an http(s) URL with a host"),
])
def test_a_cube_url_that_would_leak_the_token_is_refused_naming_line_entry_and_field(tmp_path, url, problem):
    error = error_of(write(tmp_path, VALID.replace('"http://127.0.0.1:4000"', f'"{url}"')))
    assert f"catalog.yaml:4: tenants[0] (acme) semantic_layer.cube.cube_api_url: {problem}" in str(error) \
        or f"catalog.yaml:4: tenants[0] (acme) semantic_layer.cube_api_url: {problem}" in str(error), str(error)


def test_plain_http_goes_to_loopback_and_to_the_hosts_the_deployment_lists(tmp_path, monkeypatch):
    from semsync.config import get_settings

    for url in ("http://localhost:4000", "http://[::1]:4000", "https://cube.acme.example"):
        assert read_catalog_file(write(tmp_path, VALID.replace('"http://127.0.0.1:4000"', f'"{url}"'))).tenants
    compose = write(tmp_path, VALID.replace('"http://127.0.0.1:4000"', '"http://cube:4000"'))
    assert "sends in clear text to cube" in str(error_of(compose))
    monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS", "Cube, cube.internal")
    get_settings.cache_clear()
    try:
        assert read_catalog_file(compose).tenants[0].semantic_layer.cube_api_url == "http://cube:4000"
        metadata = write(tmp_path, VALID.replace('"http://127.0.0.1:4000"', '"http://169.254.169.254"'))
        monkeypatch.setenv("SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS", "cube,169.254.169.254")
        get_settings.cache_clear()
        assert "link-local or cloud metadata" in str(error_of(metadata))  # no list lets it through
    finally:
        monkeypatch.delenv("SEMSYNC_SEMANTIC_LAYER__ALLOW_HTTP_HOSTS")
        get_settings.cache_clear()
