"""The read-only base of every model whose table is in the history DB.

luigid writes Luigi's tables and the workers write the run tables; webmon only
reads them. Saving, deleting and the bulk writes that bypass save() raise
HistoryIsReadOnly (and the session itself is read-only, see webmon/dburl.py).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models

from webmon.exceptions import HistoryIsReadOnly


def _refuse(model: type[models.Model] | models.Model) -> NoReturn:
    cls = model if isinstance(model, type) else type(model)
    raise cls.read_only_error(cls.read_only_sentence.format(name=cls.__name__))


class ReadOnlyQuerySet(models.QuerySet):
    """Refuses the bulk writes that bypass Model.save() and Model.delete()."""

    def update(self, **kwargs: Any) -> NoReturn:
        _refuse(self.model)

    def delete(self) -> NoReturn:
        _refuse(self.model)

    def bulk_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model)

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model)


class ReadOnlyModel(models.Model):
    """Base of models of a DB that webmon only reads: saving, deleting and bulk writes raise
    `read_only_error` with `read_only_sentence` ({name}: the model's)."""

    read_only_error: type[Exception] = HistoryIsReadOnly
    read_only_sentence = "{name} is in Luigi's history DB, which webmon only reads; luigid writes it."

    objects = ReadOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self)


class HistoryModel(ReadOnlyModel):
    """Base of models whose table is in the history DB; the router reads the flag."""

    lives_in_history_db = True

    class Meta:
        abstract = True
