"""Encrypted model fields.

A value is encrypted in ``pre_save`` (where the instance, and so its survivor's key and
primary key, is known) and decrypted lazily when the attribute is first read. The
column only ever holds ciphertext: plaintext handed straight to the database layer
(``QuerySet.update(notes=...)``, fixtures) is refused, not stored.

Fail closed: a value that does not authenticate raises; ``None`` (SQL NULL) stays
distinct from ``""``; only ``isnull`` lookups are allowed, because any other lookup on
ciphertext is meaningless or leaks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, Protocol

from django.core import checks
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.lookups import IsNull
from django.db.models.query_utils import DeferredAttribute

from access.crypto import envelope
from access.crypto.datakeys import DataKey
from access.crypto.errors import UnknownKey


class Sealed:
    """Ciphertext as read from the database, not yet opened."""

    __slots__ = ("blob",)

    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def __repr__(self) -> str:
        return f"<Sealed {len(self.blob)} bytes>"


class KeyOwner(Protocol):
    """A model whose encrypted fields belong to one survivor."""

    pk: Any

    def data_key(self) -> DataKey: ...


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: decrypts on first read, keeps plaintext on the instance only."""

    field: EncryptedField

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            value = self.field.open(instance, value)
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


if TYPE_CHECKING:
    _BinaryBase = models.BinaryField[Any, Any]
else:
    _BinaryBase = models.BinaryField


class EncryptedField(_BinaryBase):
    descriptor_class = _EncryptedAttribute
    python_types: tuple[type, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)
        self.editable = True

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        if getattr(self, "db_index", False) or self.unique:
            errors.append(checks.Error("encrypted fields cannot be indexed", obj=self))
        return errors

    # --- plaintext codec, per subclass ---
    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

    # --- crypto ---
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    def aad(self, instance: Any) -> bytes:
        if instance.pk is None:
            raise FieldError(f"{self.label()}: primary key must be set before encrypting")
        return f"haven-field-v1|{self.label()}|{instance.pk}".encode()

    def seal(self, instance: KeyOwner, value: Any) -> Sealed:
        key = instance.data_key()
        plaintext = envelope.pad(self.encode(value))
        return Sealed(
            envelope.seal(key.cipher_for(self.label()), key.dek_id, plaintext, self.aad(instance))
        )

    def open(self, instance: KeyOwner, sealed: Sealed) -> Any:
        key = instance.data_key()
        if envelope.key_id_of(sealed.blob) != key.dek_id:
            raise UnknownKey(f"{self.label()}: value was written under another data key")
        plaintext = envelope.open_sealed(
            key.cipher_for(self.label()), sealed.blob, self.aad(instance)
        )
        return self.decode(envelope.unpad(plaintext))

    # --- Django plumbing ---
    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        if value is None:
            return None
        return Sealed(bytes(value))

    def pre_save(self, model_instance: Any, add: bool) -> Sealed | None:
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Sealed):
            return value  # untouched ciphertext stays as it is
        return self.seal(model_instance, value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError(
                f"{self.label()}: refusing to send an unencrypted value to the database"
            )
        return connection.Database.Binary(value.blob)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return IsNull
        raise FieldError(f"{self.label()} is encrypted: only isnull lookups are allowed")

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(f"{self.label()} is encrypted: it cannot be transformed in SQL")

    def to_python(self, value: Any) -> Any:
        return value

    def value_to_string(self, obj: Any) -> str:
        return "[encrypted]"

    def clean(self, value: Any, model_instance: Any) -> Any:
        if value is None:
            if not self.null:
                raise ValidationError("This field cannot be null.", code="null")
            return None
        if not isinstance(value, self.python_types):
            raise ValidationError(f"{self.name}: wrong type", code="invalid")
        self.validate_plaintext(value)
        return value

    def validate_plaintext(self, value: Any) -> None:
        if self.max_length is not None and len(self.encode(value)) > self.max_length:
            raise ValidationError(f"{self.name}: too long", code="max_length")


def _reject_nul(name: str, text: str) -> None:
    if "\x00" in text:
        raise ValidationError(f"{name}: NUL characters are not allowed", code="null_characters")


class EncryptedTextField(EncryptedField):
    python_types = (str,)

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")

    def validate_plaintext(self, value: Any) -> None:
        super().validate_plaintext(value)
        _reject_nul(self.name, value)


class EncryptedDateField(EncryptedField):
    python_types = (dt.date,)

    def encode(self, value: dt.date) -> bytes:
        if isinstance(value, dt.datetime):
            raise ValidationError(f"{self.name}: expected a date", code="invalid")
        return value.isoformat().encode("ascii")

    def decode(self, data: bytes) -> dt.date:
        return dt.date.fromisoformat(data.decode("ascii"))


class EncryptedJSONField(EncryptedField):
    """JSON-serialisable structures (lists of strings, small dicts)."""

    python_types = (list, dict, str, int, float, bool)

    def encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes) -> Any:
        return json.loads(data.decode("utf-8"))

    def validate_plaintext(self, value: Any) -> None:
        super().validate_plaintext(value)
        # json.dumps writes NUL as the escape \u0000, never as a raw byte.
        if "\\u0000" in self.encode(value).decode("utf-8"):
            raise ValidationError(
                f"{self.name}: NUL characters are not allowed", code="null_characters"
            )
