"""`manage.py evidence_orphans [--delete] [--older-than MINUTES]`: the files in the evidence
storage that no RefundEvidence row names. A refused or failed photo upload deletes its own files
(refunds.services.evidence.files_kept_on_success); what can still be left is a file saved inside
a caller's outer transaction that rolled back later, or by a process killed between saving and
committing. Files younger than --older-than (60 minutes) are left alone: their upload may still
be committing. Lists them; with --delete removes them. Safe to run from cron, and twice."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from refunds.models import RefundEvidence

FOLDER = "evidence"


class Command(BaseCommand):
    help = "List (or with --delete remove) evidence files that no photo row names."

    def add_arguments(self, parser):
        parser.add_argument("--delete", action="store_true", help="Remove them.")
        parser.add_argument(
            "--older-than",
            type=float,
            default=60.0,
            help="Only files last modified more than this many minutes ago (60).",
        )

    def handle(self, *args, delete, older_than, **options):
        if older_than < 0:
            raise CommandError("--older-than must not be negative.", returncode=2)
        storage = RefundEvidence._meta.get_field("file").storage
        if not storage.exists(FOLDER):
            self.stdout.write("No evidence files.")
            return
        cutoff = timezone.now() - dt.timedelta(minutes=older_than)
        known = set(RefundEvidence.objects.values_list("file", flat=True))
        orphans = []
        for filename in sorted(storage.listdir(FOLDER)[1]):
            name = f"{FOLDER}/{filename}"
            if name not in known and storage.get_modified_time(name) < cutoff:
                orphans.append(name)
        for name in orphans:
            if delete:
                storage.delete(name)
            self.stdout.write(f"{'Deleted' if delete else 'Orphan'}: {name}")
        verb = "deleted" if delete else "found (run with --delete to remove them)"
        self.stdout.write(f"{len(orphans)} orphan evidence file(s) {verb}.")
