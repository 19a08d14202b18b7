"""Signing staff in for page tests: a real session that has passed the second factor."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from access.models import User

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def totp_device(user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def current_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The authenticator's code. A code is accepted once (replay protection), so a second
    sign-in within the same 30 s uses the next step's code (within the drift tolerance)."""
    code = totp(
        device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead
    )
    return f"{code:06d}"


def web_client(user: User, *, verified: bool = True) -> Client:
    """A browser-like client signed in as ``user``; ``verified`` means the session
    passed the second factor, as after a real sign-in."""
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    if verified:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()
    return client
