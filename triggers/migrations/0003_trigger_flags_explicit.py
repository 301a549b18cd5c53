"""`ignore_bots` and `ignore_drafts` became true unless set false. Configs stored before said
nothing of them and meant false: they are written out as false, so that no existing trigger
changes what it matches. Going back needs nothing: an explicit false meant the same before."""

from django.db import migrations

FLAGS_ONCE_FALSE_BY_DEFAULT = ("ignore_bots", "ignore_drafts")
BATCH_SIZE = 500


def config_with_old_defaults(config: dict) -> dict:
    return {**{flag: False for flag in FLAGS_ONCE_FALSE_BY_DEFAULT}, **config}


def write_old_defaults(apps, schema_editor) -> None:
    Trigger = apps.get_model("triggers", "Trigger")
    missing = Trigger.objects.exclude(config__has_keys=list(FLAGS_ONCE_FALSE_BY_DEFAULT)).only("id", "config").order_by("pk")
    last_pk = 0
    while batch := list(missing.filter(pk__gt=last_pk)[:BATCH_SIZE]):
        for trigger in batch:
            trigger.config = config_with_old_defaults(trigger.config)
        Trigger.objects.bulk_update(batch, ["config"])
        last_pk = batch[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ("triggers", "0002_trigger_index"),
    ]

    operations = [
        migrations.RunPython(write_old_defaults, migrations.RunPython.noop),
    ]
