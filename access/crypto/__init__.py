"""Field encryption for survivor data.

Everything that touches key material lives in this package: the keyring (KEKs), the
per-survivor data keys (DEKs) wrapped by them, and the model fields that encrypt
values under subkeys of a survivor's DEK. No other module builds a cipher object.
"""
