"""Generating a Cube data model from SQL-source metrics (what Cube makes of it: test_cube_integration)."""

from __future__ import annotations

import re

import pytest
import yaml

from semsync.catalog.models import (
    Catalog,
    CubeConnection,
    CubeMetricSource,
    DimensionDef,
    Filter,
    FilterOperator,
    MetricDef,
    SqlConnection,
    SqlMetricSource,
    TenantDef,
)
from semsync.sources.cube_model import catalog_cube_model, cube_model

AOV = MetricDef(
    id="average_order_value",
    label="AOV",
    source=SqlMetricSource(
        table="warehouse.daily_facts",
        value="sum(revenue) / nullif(sum(orders), 0)",
        time_column="day",
        filters=[
            Filter(member="tenant", operator=FilterOperator.EQUALS, values=["acme"]),
            Filter(member="revenue", operator=FilterOperator.GTE, values=["10"]),
            Filter(member="region", operator=FilterOperator.NOT_SET),
        ],
    ),
    dimensions=[DimensionDef(id="region", label="Region", member="region")],
)
CONNECTION = CubeConnection(cube_api_url="http://127.0.0.1:4000", token="t")
CUBE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$")  # no `__`: Cube's alias separator


def test_a_sql_metric_becomes_one_cube_and_a_cube_metric() -> None:
    model = cube_model([AOV])
    [cube] = yaml.safe_load(model.yaml)["cubes"]
    assert cube["name"] == "average_order_value"
    assert cube["sql_table"] == '"warehouse"."daily_facts"'
    assert cube["measures"] == [{"name": "value", "type": "number", "sql": "sum(revenue) / nullif(sum(orders), 0)"}]
    dimensions = {d["name"]: d for d in cube["dimensions"]}
    assert dimensions["day"] == {"name": "day", "type": "time", "sql": '{CUBE}."day"'}
    assert dimensions["region"] == {"name": "region", "type": "string", "sql": 'CAST({CUBE}."region" AS TEXT)'}

    [metric] = model.metrics
    assert metric.source == CubeMetricSource(
        measure="average_order_value.value",
        time_dimension="average_order_value.day",
        filters=[
            Filter(member="average_order_value.tenant", operator=FilterOperator.EQUALS, values=["acme"]),
            Filter(member="average_order_value.revenue_value", operator=FilterOperator.GTE, values=["10"]),
            Filter(member="average_order_value.region", operator=FilterOperator.NOT_SET),
        ],
    )
    assert metric.dimensions == [DimensionDef(id="region", label="Region", member="average_order_value.region")]
    assert (metric.id, metric.label) == (AOV.id, AOV.label)


def test_equality_filters_compare_text_and_comparisons_the_column_itself() -> None:
    [cube] = yaml.safe_load(cube_model([AOV]).yaml)["cubes"]
    dimensions = {d["name"]: d for d in cube["dimensions"]}
    # as the SQL source: `CAST(col AS TEXT) IN (...)` for equals, `col >= value` for comparisons
    assert dimensions["tenant"] == {"name": "tenant", "type": "string", "sql": 'CAST({CUBE}."tenant" AS TEXT)'}
    assert dimensions["revenue_value"] == {"name": "revenue_value", "type": "number", "sql": '{CUBE}."revenue"'}


def test_a_value_with_braces_is_refused() -> None:
    # Cube reads a YAML `sql` as a Python f-string, and `{{` makes it parse the file as Jinja,
    # which needs Cube's native module
    metric = AOV.model_copy(update={"source": AOV.source.model_copy(update={"value": "sum((payload->'{a}')::int)"})})
    with pytest.raises(ValueError, match="'average_order_value'.*brace"):
        cube_model([metric])


def test_catalog_model_names_cubes_per_tenant_and_points_tenants_at_cube() -> None:
    cube_metric = MetricDef(
        id="already_cube", label="Cube", source=CubeMetricSource(measure="o.c", time_dimension="o.t")
    )
    catalog = Catalog(tenants=[
        TenantDef(identifier="acme-eu", name="Acme EU", semantic_layer=SqlConnection(),
                  metrics=[AOV, AOV.model_copy(update={"id": "aov.v2"}), cube_metric]),
        TenantDef(identifier="acme", name="Acme", metrics=[AOV.model_copy(update={"id": "eu_average_order_value"})]),
    ])
    files, cube_catalog = catalog_cube_model(catalog, CONNECTION)

    names = [c["name"] for text in files.values() for c in yaml.safe_load(text)["cubes"]]
    assert sorted(files) == ["acme.yml", "acme_eu.yml"]
    assert names == ["acme_eu_average_order_value", "acme_eu_aov_v2", "acme_eu_average_order_value_2"]
    assert all(CUBE_NAME.match(n) for n in names)

    acme_eu, acme = cube_catalog.tenants
    assert acme_eu.semantic_layer == CONNECTION and acme.semantic_layer == CONNECTION
    assert [m.source.measure for m in acme_eu.metrics] == [
        "acme_eu_average_order_value.value", "acme_eu_aov_v2.value", "o.c"
    ]
    assert acme.metrics[0].source.measure == "acme_eu_average_order_value_2.value"
