"""Elements, oxides, role groups and the default site (see assays.reference_data)."""

from django.db import migrations


def load_reference_data(apps, schema_editor):  # type: ignore[no-untyped-def]
    from assays.reference_data import install_reference_data

    install_reference_data(
        element_model=apps.get_model("assays", "Element"),
        oxide_model=apps.get_model("assays", "Oxide"),
        group_model=apps.get_model("auth", "Group"),
        site_model=apps.get_model("assays", "Site"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("assays", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(load_reference_data, migrations.RunPython.noop)]
