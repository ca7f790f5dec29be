from django.apps import AppConfig


class AssaysConfig(AppConfig):
    name = "assays"
    verbose_name = "REO assays"
    default_auto_field = "django.db.models.BigAutoField"
