"""Every staff member gets their own key at the first sign-in, so that having one says
nothing about having used the self-check."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from carers.services import staff_key


@receiver(user_logged_in)
def _make_staff_key(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    staff_key(user)
