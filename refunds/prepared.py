"""Querysets compiled once and run many times: the hot reads and writes of the delivery path.

Django compiles a queryset into SQL each time it is evaluated. For the row locks every refund
service takes (`select_for_update().select_related(...).get(pk=...)`) that compiling cost more
CPU than running the statement: the delivery worker spent about a quarter of its CPU per action in
`SQLCompiler.as_sql` for three such reads and one `save(update_fields=...)` (py-spy on
`make bench`, issue 17).

- `prepared_get(key, build, value)`: `build(value)` is a queryset whose SQL depends on nothing
  but `value` (a filter on it). It is compiled once per thread and database, with a stand-in
  for the value; later calls run only that SQL with the real value and build the instance as
  Django's own `ModelIterable` does: the same columns, converters, deferred fields,
  select_related objects and annotations. DoesNotExist when no row matches, like `get()`.
- `prepared_update(instance, fields)`: `instance.save(update_fields=fields)` as one prepared
  UPDATE: the same `pre_save` (auto_now) and database preparation of each value, and Django's
  error when no row was updated. Model signals are not sent (no receiver listens to the models
  it is used on, refunds and their events; tests/refunds/test_prepared.py checks there is none).

- `prepared_insert(instance)`: `instance.save()` of a new row as one prepared INSERT (RETURNING
  its id), on databases that return columns from an insert; Django's own save elsewhere.

Per thread because a compiled query holds the thread's database connection wrapper (its
converters are bound to it); the cache is small (one entry per call site and alias).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from django.db import DatabaseError, connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

# Compiled in place of the value. Not a value any row holds (ids are positive), and found in
# the compiled parameters by identity of value: a query whose parameters hold it twice, or not
# at all, is refused when compiled.
STAND_IN = -7_319_004_211

_local = threading.local()


class _Select:
    __slots__ = (
        "annotations",
        "compiler",
        "end",
        "for_update",
        "init_list",
        "model",
        "params",
        "populators",
        "slot",
        "sql",
        "start",
    )

    def __init__(self, qs: QuerySet, alias: str):
        compiler = qs.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = [i for i, p in enumerate(params) if p == STAND_IN]
        if len(slots) != 1:
            raise ValueError(f"a prepared query takes its value once, not {len(slots)} times")
        self.sql, self.params, self.slot, self.compiler = sql, list(params), slots[0], compiler
        klass_info, select = compiler.klass_info, compiler.select
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.for_update = bool(qs.query.select_for_update)


def _cache(alias: str) -> dict:
    caches = getattr(_local, "caches", None)
    if caches is None:
        caches = _local.caches = {}
    connection = connections[alias]
    entry = caches.get(alias)
    if entry is None or entry[0] is not connection:  # a new wrapper for this thread: recompile
        entry = caches[alias] = (connection, {})
    return entry[1]


def prepared_get(key: str, model: type[Model], build: Callable[[object], QuerySet], value):
    """The one `model` row `build(value)` finds, read for writing (row locks: the database
    `router.db_for_write` names); see the module's docstring. `key` names the call site: one
    compiled query per key, thread and database, so `build` runs only the first time."""
    alias = router.db_for_write(model)
    cache = _cache(alias)
    select = cache.get(key)
    if select is None:
        sample = build(STAND_IN)
        if sample.model is not model or sample.db != alias:
            raise ValueError(f"{key}: a query of {sample.model.__name__} on {sample.db!r}")
        select = cache[key] = _Select(sample, alias)
    connection = connections[alias]
    if select.for_update and connection.get_autocommit():  # as Django's compiler refuses it
        raise TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    params = list(select.params)
    params[select.slot] = value
    with connection.cursor() as cursor:
        cursor.execute(select.sql, params)
        rows = cursor.fetchall()
    if not rows:
        name = select.model._meta.object_name
        raise select.model.DoesNotExist(f"{name} matching query does not exist.")
    if len(rows) > 1:
        raise select.model.MultipleObjectsReturned(f"{len(rows)} rows for one value")
    row = next(iter(select.compiler.results_iter([rows])))
    obj = select.model.from_db(alias, select.init_list, row[select.start : select.end])
    for populator in select.populators:
        populator.populate(row, obj)
    for name, position in select.annotations.items():
        setattr(obj, name, row[position])
    return obj


def prepared_update(instance: Model, fields: Sequence[str]) -> None:
    """`instance.save(update_fields=fields)` as one prepared UPDATE (see the module's
    docstring). A value that is an expression (F(), a function) takes Django's own save."""
    model = type(instance)
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    meta = model._meta
    columns = [meta.get_field(name) for name in dict.fromkeys(fields)]
    values = []
    for field in columns:
        value = field.pre_save(instance, False)
        if hasattr(value, "resolve_expression") or hasattr(field, "get_placeholder"):
            instance.save(update_fields=list(fields))
            return
        values.append(field.get_db_prep_save(value, connection=connection))
    cache = _cache(alias)
    key = ("update", model, tuple(f.attname for f in columns))
    sql = cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        sets = ", ".join(f"{quote(f.column)} = %s" for f in columns)
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        sql = cache[key] = f"UPDATE {table} SET {sets} WHERE {pk} = %s"  # noqa: S608 (names only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, meta.pk.get_db_prep_value(instance.pk, connection)])
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")


def prepared_insert(instance: Model) -> None:
    """`instance.save()` of a new row (no pk yet) as one prepared INSERT ... RETURNING its pk,
    with each field's `pre_save` (auto_now_add) and database preparation as Django's insert
    does them. Django's own save for a row that has a pk, a value that is an expression, or a
    database that cannot return the new id."""
    model = type(instance)
    meta = model._meta
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    auto = meta.auto_field
    if (
        instance.pk is not None
        or auto is None
        or not connection.features.can_return_columns_from_insert
    ):
        instance.save()
        return
    fields = [f for f in meta.local_concrete_fields if f is not auto and not f.generated]
    values = []
    for field in fields:
        value = field.pre_save(instance, True)
        if hasattr(value, "resolve_expression") or hasattr(field, "get_placeholder"):
            instance.save()
            return
        values.append(field.get_db_prep_save(value, connection=connection))
    cache = _cache(alias)
    key = ("insert", model)
    sql = cache.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        table, pk = quote(meta.db_table), quote(auto.column)
        sql = cache[key] = f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        (new_id,) = cursor.fetchone()
    setattr(instance, auto.attname, new_id)
    instance._state.adding = False
    instance._state.db = alias
