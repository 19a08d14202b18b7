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
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from cryptography.exceptions import InvalidTag
from django.core import checks
from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.lookups import IsNull
from django.db.models.query_utils import DeferredAttribute

from access.crypto import envelope
from access.crypto.datakeys import (
    DataKey,
    WrappedDataKey,
    data_key_of,
    new_data_key,
    unwrap_data_key,
)
from access.crypto.errors import TAMPERING, DecryptionFailed


class Sealed(bytes):
    """Ciphertext, as read from the database or on its way to it. The only thing
    ``get_db_prep_value`` accepts, so plaintext (of any type, bytes included) handed to
    ``QuerySet.update()`` or assigned to a field is encrypted or refused, never stored.

    A ``bytes`` subclass with no attributes of its own: a list of thousands of rows
    holds no extra object per value for the garbage collector to walk."""

    __slots__ = ()

    @property
    def blob(self) -> bytes:  # the name data migrations written before used
        return self

    def __repr__(self) -> str:
        return f"<Sealed {len(self)} bytes>"

    __str__ = __repr__


class KeyOwner(Protocol):
    """A model whose encrypted fields belong to one survivor."""

    pk: Any

    def data_key(self) -> DataKey: ...


SEALED_VERSION = "_haven_sealed_version"
_PLACE_CACHE = "_haven_place"


def open_value(key: DataKey, label: str, blob: bytes, aad: bytes) -> bytes:
    """The padded plaintext of a field value: format 2 under the key's field key (the
    hot path of every read: one comparison, one decryption), or format 1 under the
    per-field subkey of values not yet resealed."""
    header = key.header
    start = len(header)
    if blob[:start] == header:
        try:
            return key.aead.decrypt(blob[start : start + 12], blob[start + 12 :], header + aad)
        except InvalidTag as exc:
            raise DecryptionFailed("ciphertext does not authenticate in this place") from exc
    return envelope.open_with_header(key.cipher_for(label), blob, aad, key.legacy_header)


def aad_prefix(label: str) -> bytes:
    return f"haven-field-v1|{label}|".encode()


def row_place(row: Any, version: int | None) -> bytes:
    """``<row id>`` or ``<row id>|v<version>``: the row part of a value's AAD."""
    place = (row.hex if isinstance(row, uuid.UUID) else str(row)).encode()
    return place if version is None else place + b"|v" + str(int(version)).encode()


class EncryptedModel(models.Model):
    """Base of every model with encrypted fields. The AAD of each value names the
    model, the field and the row (``encryption_row_field``, an id known before the
    insert); a versioned record (``encryption_version_field``) also binds every value
    to its version, so an earlier ciphertext of the same row and field replayed into
    it fails to decrypt instead of passing for the current value."""

    encryption_row_field: ClassVar[str] = "pk"
    encryption_version_field: ClassVar[str | None] = None

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        field = type(self).encryption_version_field
        if field is not None:
            self.__dict__[SEALED_VERSION] = self.__dict__.get(field)

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> Any:
        instance = super().from_db(db, field_names, values, **kwargs)
        if cls.encryption_version_field is not None:
            instance.__dict__[SEALED_VERSION] = instance.__dict__.get(cls.encryption_version_field)
        return instance

    def data_key(self) -> DataKey:
        raise NotImplementedError


class OwnKeyModel(EncryptedModel):
    """A row that carries a data key of its own, wrapped by the active KEK and bound to
    ``key_id()`` (the row's id unless a subclass binds it elsewhere): kept forms, staff
    keys, supervision sessions, support plans. ``keys rotate`` re-wraps every one."""

    kek_id = models.CharField(max_length=32, db_index=True)
    dek_id = models.CharField(max_length=16)
    wrapped_dek = models.BinaryField()

    _data_key: DataKey | None = None

    class Meta:
        abstract = True

    def key_id(self) -> uuid.UUID:
        return uuid.UUID(str(self.pk))

    @classmethod
    def with_new_key(cls, **kwargs: Any) -> Self:
        row = cls(**kwargs)
        wrapped, key = new_data_key(row.key_id())
        row.kek_id, row.dek_id, row.wrapped_dek = wrapped.kek_id, wrapped.dek_id, wrapped.blob
        row._data_key = key
        return row

    def wrapped(self) -> WrappedDataKey:
        return WrappedDataKey(dek_id=self.dek_id, kek_id=self.kek_id, blob=bytes(self.wrapped_dek))

    def data_key(self) -> DataKey:
        if self._data_key is None:
            self._data_key = unwrap_data_key(self.key_id(), self.wrapped())
        return self._data_key


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: decrypts on first read, keeps plaintext on the instance only."""

    field: EncryptedField

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        data = instance.__dict__
        attname = self.field.attname
        try:
            value = data[attname]
        except KeyError:  # deferred: loaded now
            value = super().__get__(instance, cls)
        if value.__class__ is Sealed:
            value = data[attname] = self.field.open(instance, value)
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
        if not issubclass(self.model, EncryptedModel):
            errors.append(
                checks.Error("a model with encrypted fields derives from EncryptedModel", obj=self)
            )
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
        self._aad_prefix = aad_prefix(self._label)
        self._row_names_of: dict[Any, tuple[str, str | None]] = {}

    def label(self) -> str:
        return self._label

    def _row_names(self, model: Any) -> tuple[str, str | None]:
        """(attribute of the row id, version field or None) of ``model``, worked out
        once per model."""
        names = self._row_names_of.get(model)
        if names is None:
            row_field = model.encryption_row_field
            attname = (
                model._meta.pk.attname
                if row_field == "pk"
                else model._meta.get_field(row_field).attname
            )
            names = self._row_names_of[model] = (attname, model.encryption_version_field)
        return names

    def _place(self, instance: Any, *, sealed: bool) -> bytes:
        """The row part of the AAD: the row id, and for a versioned record the version
        the value is (``sealed``) or will be sealed under. Cached on the instance, with
        what it was worked out from: a row id or version changed since is noticed."""
        data = instance.__dict__
        cached: tuple[str, Any, str | None, Any, bytes] | None = data.get(_PLACE_CACHE)
        if cached is not None:
            row_attname, row, version_field, version, place = cached
            if data.get(row_attname) is row:
                if version_field is None:
                    return place
                current = data.get(version_field)
                if (data.get(SEALED_VERSION, current) if sealed else current) == version:
                    return place
        row_attname, version_field = self._row_names(type(instance))
        row = data.get(row_attname)
        if row is None:  # deferred, or not yet set
            row = getattr(instance, row_attname)
        version = None
        if version_field is not None:
            current = data.get(version_field)
            version = data.get(SEALED_VERSION, current) if sealed else current
        if row is None:
            raise FieldError(f"{self._label}: the row id must be set before encrypting")
        place = row_place(row, version)
        data[_PLACE_CACHE] = (row_attname, row, version_field, version, place)
        return place

    def aad(self, instance: Any) -> bytes:
        return self._aad_prefix + self._place(instance, sealed=False)

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
            envelope.seal_with_header(key.aead, key.header, plaintext, self.aad(instance))
        )

    def open(self, instance: KeyOwner, blob: bytes) -> Any:
        """Decrypt; a value written under another survivor's key is refused by its key
        id (``UnknownKey``), a value moved from another place, or replayed from an
        earlier version of a versioned record, by its AAD.

        The read path of every list and page, once per field per row: the key and the
        row's place are remembered on the instance (``open_value`` does the rest)."""
        key = instance.__dict__.get("_haven_data_key") or self._key(instance)
        aad = self._aad_prefix + self._place(instance, sealed=True)
        try:
            padded = open_value(key, self._label, blob, aad)
        except TAMPERING as exc:
            exc.place = self._label
            raise
        return self.decode(envelope.unpad(padded))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(value)

    def pre_save(self, model_instance: Any, add: bool) -> Sealed | None:
        data = model_instance.__dict__
        value = data.get(self.attname)
        if value is None:
            return None
        if isinstance(value, Sealed):
            version_field = getattr(type(model_instance), "encryption_version_field", None)
            if version_field is None or data.get(SEALED_VERSION) == data.get(version_field):
                return value  # untouched ciphertext stays as it is
            # The record moves to a new version: every value is sealed again under it.
            value = data[self.attname] = self.open(model_instance, value)
        return self.seal(model_instance, value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if not isinstance(value, Sealed):
            raise TypeError(
                f"{self.label()}: refusing to send an unencrypted value to the database"
            )
        return connection.Database.Binary(value)

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


# --- for data migrations, which work on stored rows without model instances ---


class StoredKeys:
    """Data keys of survivors as stored rows (a historical ``Survivor`` model in a
    migration), unwrapped once each; None for a shredded survivor."""

    def __init__(self, survivor_model: Any) -> None:
        self._model = survivor_model
        self._keys: dict[Any, DataKey | None] = {}

    def __call__(self, survivor_id: Any) -> DataKey | None:
        if survivor_id not in self._keys:
            row = self._model.objects.get(pk=survivor_id)
            self._keys[survivor_id] = (
                None
                if row.wrapped_dek is None
                else data_key_of(row.id, row.dek_id, bytes(row.wrapped_dek))
            )
        return self._keys[survivor_id]


def seal_stored(key: DataKey, label: str, row: Any, version: int | None, plaintext: bytes) -> bytes:
    """Encrypt encoded ``plaintext`` for ``label`` (``app.model.field``) in ``row``."""
    aad = aad_prefix(label) + row_place(row, version)
    return envelope.seal_with_header(key.aead, key.header, envelope.pad(plaintext), aad)


def open_stored(key: DataKey, label: str, row: Any, version: int | None, blob: bytes) -> bytes:
    aad = aad_prefix(label) + row_place(row, version)
    try:
        plain = open_value(key, label, blob, aad)
    except TAMPERING as exc:
        exc.place = label
        raise
    return envelope.unpad(plain)


def needs_reseal(blob: bytes) -> bool:
    """Whether ``blob`` is a format-1 value (``keys reseal`` seals it again)."""
    return blob[0] == envelope.FORMAT_VERSION


# --- files kept outside the database (attachments) ---


def seal_file(key: DataKey, label: str, row: Any, data: bytes) -> bytes:
    """A file's bytes sealed for storage outside the database, under the owner's data
    key and bound to ``label`` (``app.model``) and its row: a file renamed, copied to
    another record or swapped with another does not open."""
    return seal_stored(key, label, row, None, data)


def open_file(key: DataKey, label: str, row: Any, blob: bytes) -> bytes:
    """The bytes sealed by ``seal_file``; fails closed on any change."""
    return open_stored(key, label, row, None, blob)
