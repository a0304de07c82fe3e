import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders.errors import OrderError
from orders.services import order_upsert


class Command(BaseCommand):
    help = (
        "Import orders from a JSON file (one order object or a list of them; the format is "
        "documented in orders/services.py). Importing the same order twice updates it."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file} is not valid JSON: {exc}") from exc
        orders = data if isinstance(data, list) else [data]
        created = 0
        # All or nothing: a bad order anywhere in the file leaves the database as it was.
        with transaction.atomic():
            for index, item in enumerate(orders):
                try:
                    order_upsert(data=item)
                except OrderError as exc:
                    raise CommandError(
                        f"Order #{index + 1} in {file}: {exc.message}. Nothing was imported."
                    ) from exc
                created += 1
        self.stdout.write(self.style.SUCCESS(f"Imported {created} order(s) from {file}"))
