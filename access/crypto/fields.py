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
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from django.core import checks
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.lookups import IsNull
from django.db.models.query_utils import DeferredAttribute

from access.crypto import envelope
from access.crypto.datakeys import DataKey


class Sealed:
    """Ciphertext, as read from the database or on its way to it. The only thing
    ``get_db_prep_value`` accepts, so plaintext (of any type, bytes included) handed to
    ``QuerySet.update()`` or assigned to a field is encrypted or refused, never stored."""

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
        data = instance.__dict__
        attname = self.field.attname
        value = data[attname] if attname in data else super().__get__(instance, cls)
        if value.__class__ is Sealed:
            value = data[attname] = self.field.open(instance, value.blob)
        return value

    # The read path of every list and page goes through here once per field per row;
    # ``EncryptedField.open`` keeps it to one dictionary look-up for the key, one for the
    # primary key's bytes, one comparison of the header and one AES-GCM decryption.

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
    def contribute_to_class(self, cls: Any, name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        # Computed once: the hot path (every read of every field) must not rebuild them.
        self._label = f"{cls._meta.label_lower}.{name}"
        self._aad_prefix = f"haven-field-v1|{self._label}|".encode()

    def label(self) -> str:
        return self._label

    def aad(self, instance: Any) -> bytes:
        pk = instance.pk
        if pk is None:
            raise FieldError(f"{self._label}: primary key must be set before encrypting")
        cached: tuple[Any, bytes] | None = instance.__dict__.get("_haven_pk_bytes")
        if cached is None or cached[0] is not pk:
            cached = (pk, (pk.hex if isinstance(pk, uuid.UUID) else str(pk)).encode())
            instance.__dict__["_haven_pk_bytes"] = cached
        return self._aad_prefix + cached[1]

    @staticmethod
    def _key(instance: KeyOwner) -> DataKey:
        """The owner's data key, remembered on the instance for its other fields (an
        instance lives for one request; the unwrapped key never leaves memory)."""
        key: DataKey | None = instance.__dict__.get("_haven_data_key")
        if key is None:
            key = instance.__dict__["_haven_data_key"] = instance.data_key()
        return key

    def seal(self, instance: KeyOwner, value: Any) -> Sealed:
        if not isinstance(value, self.python_types):
            raise TypeError(f"{self._label}: cannot encrypt a {type(value).__name__}")
        key = self._key(instance)
        plaintext = envelope.pad(self.encode(value))
        return Sealed(
            envelope.seal(key.cipher_for(self._label), key.dek_id, plaintext, self.aad(instance))
        )

    def open(self, instance: KeyOwner, blob: bytes) -> Any:
        """Decrypt; a value written under another survivor's key is refused by its key
        id (``UnknownKey``), a value moved from another place by its AAD."""
        data = instance.__dict__
        key = data.get("_haven_data_key") or self._key(instance)
        pk_bytes = data.get("_haven_pk_bytes")
        aad = (
            self._aad_prefix + pk_bytes[1]
            if pk_bytes is not None and pk_bytes[0] is instance.pk
            else self.aad(instance)
        )
        cipher = key._ciphers.get(self._label) or key.cipher_for(self._label)
        plaintext = envelope.open_with_header(cipher, blob, aad, key.header)
        return self.decode(envelope.unpad(plaintext))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(bytes(value))

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


class EncryptedBinaryField(EncryptedField):
    """Opaque bytes (an export package awaiting download), encrypted like any field."""

    python_types = (bytes,)

    def encode(self, value: bytes) -> bytes:
        return bytes(value)

    def decode(self, data: bytes) -> bytes:
        return data


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
