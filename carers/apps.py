from django.apps import AppConfig


class CarersConfig(AppConfig):
    """Care for the carers (action sheet 8): the private self-check, supervision,
    support plans, training and caseload limits."""

    name = "carers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from carers import signals  # noqa: F401  (connects the sign-in hook)
