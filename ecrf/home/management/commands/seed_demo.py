from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from ecrf.accounts.models import User
from ecrf.accounts.services import user_create
from ecrf.audit.commands import AuditedCommand
from ecrf.audit.services import record_update
from ecrf.home import demo
from ecrf.home.services import study_setup_trial
from ecrf.participants.services import participant_enroll, site_today
from ecrf.studies import trial
from ecrf.studies.models import Site


class Command(AuditedCommand):
    help = (
        "Set up the tacrolimus study with demo users and participants for `make run`. "
        "Refused in production: the demo passwords are public."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ECRF_ALLOW_DEMO_USERS:
            raise CommandError("Demo users are refused with these settings (production).")
        study, _report = study_setup_trial(sites=list(trial.SITES), performed_by=None)
        admin = User.objects.filter(username="admin1").first()
        if study.mfa_required:
            record_update(
                instance=study,
                values={"mfa_required": False},
                reason="Demonstration installation: two-factor authentication relaxed",
                performed_by=admin,
                site=None,
            )
        created = []
        for username, role, sites, printed_name, language in demo.DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            user_create(
                username=username,
                role=role,
                password=demo.DEMO_PASSWORD,
                site_codes=sites,
                printed_name=printed_name,
                language=language,
                performed_by=None,
            )
            created.append(username)
        if created:
            for code, days_ago, birth in demo.DEMO_PARTICIPANTS:
                site = Site.objects.get(study=study, code=code)
                coordinator = User.objects.filter(role="coordinator", memberships__site=site).get()
                participant_enroll(
                    site=site,
                    screening_date=site_today(site) - dt.timedelta(days=days_ago),
                    birth_date=dt.date.fromisoformat(birth),
                    performed_by=coordinator,
                )
        self.stdout.write(f"Demo logins (password for all: {demo.DEMO_PASSWORD}):")
        for username, role, sites, _name, _lang in demo.DEMO_USERS:
            self.stdout.write(f"  {username:<15} {role:<13} {', '.join(sites) or 'all sites'}")
