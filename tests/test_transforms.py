"""Each operation, run through a real pipeline on DuckDB and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from conftest import TinyProject
from warehouse_kit.core.errors import ConfigError, ExpressionError


def silver(operations: str, *, source: str = "t", extra: str = "") -> str:
    return f"""
    pipeline:
      name: p
      sources: [{{name: files, type: files, path: data, tables: [{source}{extra}]}}]
      transformations:
        - stage: bronze
        - stage: silver
          models:
            - name: out
              from: {source}
              operations: {operations}
    """


def values(rows, column):
    return [row[column] for row in rows]


def test_deduplicate_keeps_the_latest_row_per_key_and_passes_null_keys(tiny):
    tiny.csv(
        "t",
        """
        id,v,ts
        1,old,2024-01-01
        1,new,2024-02-01
        2,only,2024-01-01
        ,a,2024-01-01
        ,b,2024-01-01
        """,
    )
    tiny.pipeline(silver("[{op: deduplicate, key: id, order_by: ts}]"))
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by=["id", "v"])
    assert values(out, "v") == ["new", "only", "a", "b"]


def test_deduplicate_keep_first(tiny):
    tiny.csv("t", "id,v,ts\n1,old,2024-01-01\n1,new,2024-02-01\n")
    tiny.pipeline(silver("[{op: deduplicate, key: id, order_by: ts, keep: first}]"))
    assert tiny.run().ok
    assert values(tiny.rows("silver.out"), "v") == ["old"]


def test_deduplicate_without_a_key_collapses_identical_rows(tiny):
    tiny.csv("t", "id,v\n1,a\n1,a\n1,b\n")
    tiny.pipeline(silver("[deduplicate]"))
    assert tiny.run().ok
    assert values(tiny.rows("silver.out", order_by="v"), "v") == ["a", "b"]


def test_type_casting_trims_and_turns_unparseable_values_into_null(tiny):
    tiny.csv(
        "t",
        """
        n,amount,day,moment,flag
        " 42 ",12.5,2024-02-29,2024-01-05 10:30:00,yes
        x1,abc,2024-02-30,2024-01-05 25:00:00,no
        -7,-0.25,31/12/2024,2024-13-01,maybe
        """,
    )
    tiny.pipeline(
        silver(
            "[{op: type_casting, columns: {n: int64, amount: 'decimal(10,2)', day: date, "
            "moment: timestamp, flag: boolean}}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="n")
    assert values(out, "n") == [-7, 42, None]
    assert values(out, "amount") == [Decimal("-0.25"), Decimal("12.50"), None]
    assert values(out, "day") == [None, dt.date(2024, 2, 29), None]
    assert values(out, "moment")[1] == dt.datetime(2024, 1, 5, 10, 30)
    assert values(out, "moment")[0] is None
    assert values(out, "moment")[2] is None
    assert values(out, "flag") == [None, True, False]


WHITESPACE = {  # raw text -> as an integer, and as text once blanks are NULL
    "\t42\t": (42, "\t42\t"),
    "42\r": (42, "42\r"),
    "\x0b7\x0c": (7, "\x0b7\x0c"),
    " \t\r ": (None, None),
    "": (None, None),
    "é1": (None, "é1"),
    "\x01 5": (None, "\x01 5"),
}


def test_casting_and_blanks_trim_every_whitespace_character_and_nothing_else(tiny):
    # Values are trimmed only where an end has a character <= 32 (`casting.trimmed`).
    rows = "".join(f'{i},"{raw}"\n' for i, raw in enumerate(WHITESPACE))
    tiny.csv("t", "id,v\n" + rows)
    tiny.pipeline(
        silver(
            "[{op: null_handling, columns: {}}, {op: calculate_metrics, columns: {text: v}},"
            " {op: type_casting, columns: {id: int64, v: int64}}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="id")
    expected = [number for number, _ in WHITESPACE.values()]
    if tiny.target.startswith("spark"):
        expected[-1] = 5  # Spark's TRY_CAST trims control characters itself (README)
    assert values(out, "v") == expected
    assert values(out, "text") == [text for _, text in WHITESPACE.values()]


@pytest.mark.parity
def test_trimming_text_removes_whitespace_and_keeps_every_letter(tiny):
    # Ibis wrote Spark's TRIM with \v and \f escapes that Spark reads as letters.
    texts = [" dev", "fav\t", "\tv f ", "vf"]
    tiny.csv("t", "id,v\n" + "".join(f'{i},"{text}"\n' for i, text in enumerate(texts)))
    tiny.pipeline(silver("[{op: type_casting, columns: {id: int64, v: string}}]"))
    assert tiny.run().ok
    assert values(tiny.rows("silver.out", order_by="id"), "v") == ["dev", "fav", "v f", "vf"]


OUT_OF_RANGE = {
    "int32": (
        ["2147483647", "2147483648", "-2147483649", "99999999999", "-007"],
        [2147483647, None, None, None, -7],
    ),
    "int64": (
        ["9223372036854775807", "9223372036854775808", "-9223372036854775808"],
        [9223372036854775807, None, -9223372036854775808],
    ),
    "int8": (["127", "128", "-129"], [127, None, None]),
    "decimal(4,2)": (
        ["99.994", "99.995", "100", "-99.999", "1e1", "1e3"],
        [Decimal("99.99"), None, None, None, Decimal("10.00"), None],
    ),
    "float64": (
        ["1e400", "-1e400", "1e308", "1e-310", "1e-400", "inf", "NaN"],
        [None, None, 1e308, 1e-310, 0.0, None, None],
    ),
    "float32": (["1e39", "-1e39", "1e-50", "1.5"], [None, None, 0.0, 1.5]),
    "date": (
        ["0000-01-01", "0001-01-01", "9999-12-31"],
        [None, dt.date(1, 1, 1), dt.date(9999, 12, 31)],
    ),
    "timestamp": (
        ["0000-01-01 10:00:00", "2024-01-01 10:00:00"],
        [None, dt.datetime(2024, 1, 1, 10)],
    ),
}


@pytest.mark.parametrize("type_name", OUT_OF_RANGE)
def test_a_value_out_of_the_types_range_becomes_null_on_every_engine(tiny, type_name):
    texts, expected = OUT_OF_RANGE[type_name]
    tiny.csv("t", "n,v\n" + "".join(f"{i},{text}\n" for i, text in enumerate(texts)))
    tiny.pipeline(silver(f"[{{op: type_casting, columns: {{n: int32, v: '{type_name}'}}}}]"))
    result = tiny.run()
    assert result.ok, [m.error for m in result.models]
    assert values(tiny.rows("silver.out", order_by="n"), "v") == expected


def test_type_casting_refuses_an_unknown_type(tiny):
    tiny.csv("t", "n\n1\n")
    tiny.pipeline(silver("[{op: type_casting, columns: {n: integer64}}]"))
    with pytest.raises(ConfigError, match=r"operations\[0\]: columns.n: unknown type 'integer64'"):
        tiny.run()


def test_null_handling_blank_is_null_then_drop_and_fill(tiny):
    tiny.csv("t", "id,name,score\n1,  ,\n,x,3\n3,y,\n")
    tiny.pipeline(
        silver(
            "[{op: type_casting, columns: {id: int64, score: int64}}, "
            "{op: null_handling, columns: {id: drop, score: {fill: 0}, name: keep}}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="id")
    assert values(out, "id") == [1, 3]
    assert values(out, "name") == [None, "y"]
    assert values(out, "score") == [0, 0]


def test_join_tables_adds_columns_and_suffixes_taken_names(tiny):
    tiny.csv("lines", "order_id,name\n1,line a\n2,line b\n9,orphan\n")
    tiny.csv("orders", "id,name,customer\n1,first,c1\n2,second,c2\n")
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources: [{name: files, type: files, path: data, tables: [lines, orders]}]
          transformations:
            - stage: silver
              models:
                - name: out
                  from: lines
                  operations:
                    - {op: join_tables, with: orders, on: {order_id: id}, how: left}
        """
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="order_id")
    assert list(out[0])[:3] == ["order_id", "name", "_loaded_at"]
    assert values(out, "name_orders") == ["first", "second", None]
    assert values(out, "customer") == ["c1", "c2", None]


def test_two_joins_on_the_same_key_in_one_model(tiny):
    tiny.csv("lines", "order_id,qty\n1,3\n2,4\n")
    tiny.csv("orders", "order_id,status\n1,shipped\n2,open\n")
    tiny.csv("payments", "order_id,paid\n1,yes\n")
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources: [{name: files, type: files, path: data, tables: [lines, orders, payments]}]
          transformations:
            - stage: silver
              models:
                - name: out
                  from: lines
                  operations:
                    - {op: join_tables, with: orders, on: order_id, columns: [status]}
                    - {op: join_tables, with: payments, on: order_id, columns: [paid]}
        """
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="order_id")
    assert [(r["order_id"], r["status"], r["paid"]) for r in out] == [
        ("1", "shipped", "yes"),
        ("2", "open", None),
    ]


def test_select_rename_drop_columns_and_a_stage_without_load_metadata(tiny):
    tiny.csv("t", "id,name,email,notes\n1,Ann,a@x.com,n1\n")
    tiny.pipeline(
        """
        pipeline:
          name: p
          sources: [{name: files, type: files, path: data, tables: [t]}]
          transformations:
            - stage: silver
              models:
                - name: picked
                  from: t
                  operations:
                    - {op: select, columns: [name, id, _loaded_at]}
                    - {op: rename, columns: {name: customer_name}}
                - name: dropped
                  from: t
                  operations: [{op: drop_columns, columns: [email], load_metadata: true}]
            - stage: gold
              drop_load_metadata: true
              models: [{name: clean, from: picked}]
        """
    )
    assert tiny.run().ok
    assert list(tiny.rows("silver.picked")[0]) == ["customer_name", "id", "_loaded_at"]
    assert list(tiny.rows("silver.dropped")[0]) == ["id", "name", "notes"]
    assert tiny.rows("gold.clean") == [{"customer_name": "Ann", "id": "1"}]


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        ("{op: select, columns: [id, nmae]}", "columns: unknown column 'nmae'"),
        ("{op: rename, columns: {name: id}}", "columns: 'id' would name two columns"),
        ("{op: drop_columns, columns: [id, nmae]}", "columns: unknown column 'nmae'"),
        ("{op: drop_columns}", "name the columns to drop, or say load_metadata: true"),
    ],
)
def test_column_operations_refuse_what_they_cannot_do_in_one_line(tmp_path, operation, problem):
    tiny = TinyProject(tmp_path, "duckdb:///" + str(tmp_path / "w.duckdb"))
    tiny.csv("t", "id,name\n1,Ann\n")
    tiny.pipeline(silver(f"[{operation}]"))
    with pytest.raises(ConfigError) as raised:
        tiny.run()
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("pipelines/p.yml: pipeline.transformations[1].models[0]")
    assert problem in message


def test_business_rules_filter_and_flag(tiny):
    tiny.csv("t", "q,email\n3,a@b.com\n-1,bad\n5,\n")
    tiny.pipeline(
        silver(
            "[{op: type_casting, columns: {q: int32}}, "
            "{op: apply_business_rules, rules: ["
            "{name: positive, condition: 'q > 0'}, "
            "{name: email_ok, condition: \"email LIKE '%@%'\", action: flag}]}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="q")
    assert values(out, "q") == [3, 5]
    assert values(out, "email_ok") == [True, False]


def test_a_rule_naming_an_unknown_column_fails_before_anything_is_written(tiny):
    tiny.csv("t", "quantity\n1\n")
    tiny.pipeline(
        silver("[{op: apply_business_rules, rules: [{name: r, condition: 'quantitty > 0'}]}]")
    )
    with pytest.raises(ExpressionError) as caught:
        tiny.run()
    message = str(caught.value)
    assert (
        "pipelines/p.yml: pipeline.transformations[1].models[0].operations[0].rules[0].condition"
        in message
    )
    assert "quantitty" in message
    assert "did you mean 'quantity'" in message
    from warehouse_kit.core.backends import connect

    wh = connect(tiny.target)
    try:
        assert "_wk" not in wh.con.list_databases()
    finally:
        wh.close()


def test_calculate_metrics_can_use_columns_computed_before(tiny):
    tiny.csv("t", "q,price\n2,1.5\n")
    tiny.pipeline(
        silver(
            "[{op: type_casting, columns: {q: int32, price: float64}}, "
            "{op: calculate_metrics, columns: {gross: 'q * price', net: 'gross * 0.5'}}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out")
    assert values(out, "gross") == [3.0]
    assert values(out, "net") == [1.5]


def test_aggregate_metrics(tiny):
    tiny.csv("t", "g,c,v\na,1,10\na,1,20\na,2,\nb,3,5\n")
    tiny.pipeline(
        silver(
            "[{op: type_casting, columns: {v: int64}}, "
            "{op: aggregate_metrics, group_by: g, measures: "
            "{total: 'sum(v)', customers: 'count(distinct c)', rows_: 'count(*)', mean: 'avg(v)'}}]"
        )
    )
    assert tiny.run().ok
    out = tiny.rows("silver.out", order_by="g")
    assert values(out, "total") == [30, 5]
    assert values(out, "customers") == [2, 1]
    assert values(out, "rows_") == [3, 1]
    assert values(out, "mean") == [15.0, 5.0]


STAR = """
pipeline:
  name: p
  sources: [{name: files, type: files, path: data, tables: [customers, sales], load: replace}]
  transformations:
    - stage: silver
      models:
        - name: customers
          operations: [{op: type_casting, columns: {id: int64}}]
        - name: sales
          operations:
            - {op: type_casting, columns: {customer_id: int64, day: date, amount: float64}}
    - stage: gold
      models:
        - name: dim_customer
          from: customers
          operations: [{op: create_dimensions, key: id}]
        - name: dim_date
          from: sales
          operations: [{op: create_date_dimension, column: day, fiscal_year_start_month: 7}]
        - name: fact_sales
          from: sales
          operations:
            - op: build_facts
              dimensions:
                - {dimension: dim_customer, key: customer_id}
                - {dimension: dim_date, key: day}
"""


def test_dimension_keys_stay_the_same_when_members_arrive_and_leave(tiny):
    tiny.csv("customers", "id,name\n20,Bo\n10,Al\n")
    tiny.csv("sales", "customer_id,day,amount\n10,2024-01-01,5\n")
    tiny.pipeline(STAR)
    assert tiny.run().ok
    first = tiny.rows("gold.dim_customer", order_by="customer_key")
    assert values(first, "customer_key") == [-1, 1, 2]
    assert values(first, "id") == [None, 10, 20]
    assert values(first, "name") == ["Unknown", "Al", "Bo"]

    tiny.csv("customers", "id,name\n5,Cy\n10,Alice\n")  # 20 leaves, 5 arrives, 10 renamed
    assert tiny.run().ok
    second = tiny.rows("gold.dim_customer", order_by="customer_key")
    assert values(second, "customer_key") == [-1, 1, 2, 3]
    assert values(second, "id") == [None, 10, 20, 5]
    assert values(second, "name") == ["Unknown", "Alice", "Bo", "Cy"]


def test_facts_point_to_the_unknown_member_when_none_matches(tiny):
    tiny.csv("customers", "id,name\n10,Al\n")
    tiny.csv("sales", "customer_id,day,amount\n10,2024-01-01,5\n99,2024-03-01,7\n,not a date,1\n")
    tiny.pipeline(STAR)
    assert tiny.run().ok
    facts = tiny.rows("gold.fact_sales", order_by="amount")
    assert list(facts[0]) == [
        "customer_key",
        "date_key",
        "amount",
        "_loaded_at",
        "_source",
        "_batch_id",
    ]
    assert values(facts, "customer_key") == [-1, 1, -1]
    assert values(facts, "date_key") == [-1, 20240101, 20240301]


def test_a_dimension_refuses_a_repeated_natural_key(tiny):
    tiny.csv("customers", "id,name\n10,Al\n10,Alice\n")
    tiny.csv("sales", "customer_id,day,amount\n10,2024-01-01,5\n")
    tiny.pipeline(STAR)
    result = tiny.run()
    assert not result.ok
    [failure] = result.failures()
    assert failure.model == "gold.dim_customer"
    assert "natural key (id) is not unique in the input, e.g. 10" in failure.error


def test_the_date_dimension_covers_whole_years_with_calendar_attributes(tiny):
    tiny.csv("customers", "id,name\n10,Al\n")
    tiny.csv("sales", "customer_id,day,amount\n10,2023-01-01,5\n10,2024-07-01,5\n")
    tiny.pipeline(STAR)
    assert tiny.run().ok
    days = {row["date_key"]: row for row in tiny.rows("gold.dim_date")}
    assert len(days) == 365 + 366 + 1  # 2023, 2024 and the unknown day
    sunday = days[20230101]
    assert (sunday["weekday_name"], sunday["day_of_week"], sunday["is_weekend"]) == (
        "Sunday",
        7,
        True,
    )
    assert (sunday["iso_week"], sunday["iso_year"]) == (52, 2022)
    july = days[20240701]
    assert type(july["date"]) is dt.date  # a DATE column, not a timestamp
    assert (july["fiscal_year"], july["fiscal_quarter"], july["quarter"]) == (2025, 1, 3)
    assert (days[20240630]["fiscal_year"], days[20240630]["fiscal_quarter"]) == (2024, 4)
    assert days[-1]["weekday_name"] == "Unknown"
