"""Static files storage: hashed names and compression from whitenoise, without letting a
missing manifest entry turn a page (an error page above all) into a bare 500."""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    """A file missing from the manifest (``collectstatic`` not run after a change) is
    linked under its plain name: the page still renders, only that asset may be
    missing."""

    manifest_strict = False

    def stored_name(self, name: str) -> str:
        try:
            stored: str = super().stored_name(name)
            return stored
        except ValueError:
            return name
