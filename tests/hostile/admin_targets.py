"""The admin site's forms as hostile-input targets, found from its registry.

Every ModelAdmin registered on ``admin.site`` whose add or change page an administrator
may use brings a target: the form the admin builds for that page (with its reason for
change), posted as an administrator from a valid baseline (the values an existing record
shows, its inline rows included) with some fields made hostile. A refusal is the form
shown again (or 403/409) with nothing written; an acceptance stores what the form cleaned,
and the record's change page shows every stored text escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.db import models, transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.urls import reverse

from ecrf.accounts.models import User
from ecrf.accounts.roles import Role
from ecrf.studies.models import Site
from tests.factories import PASSWORD

from .engine import Ctx, Target

#: The page kinds whose forms take input, and the ModelAdmin permission each needs.
MODES = ("add", "change")

#: What a new record must not share with the existing one its baseline is copied from
#: (codes and names the database keeps unique); a model missing here whose copy is
#: refused fails its baseline, which says what to add.
NEW_RECORD_VALUES: dict[str, dict[str, str]] = {
    "accounts.User": {
        "username": "new_study_user",
        "password1": f"{PASSWORD}-new",
        "password2": f"{PASSWORD}-new",
    },
    "studies.Study": {"code": "TAC-NEXT", "registry_id": "jRCTs000000000"},
    "studies.Site": {"code": "S99"},
    "studies.Arm": {"code": "next_arm"},
    "studies.VisitDefinition": {"code": "next_visit"},
    "endpoints.EditCheckSetting": {"code": "next_check"},
}


def _a_site_without_ranges(scene: Any) -> dict[str, str]:
    """Every analyte of the trial's sites has its range: a new range needs a new site."""
    site_a = scene.fx("site_a")
    site = Site.objects.create(
        study=site_a.study,
        code="S03",
        name_en="Third site",
        name_ja="第三施設",
        time_zone=site_a.time_zone,
    )
    return {"site": str(site.pk)}


#: What a new record needs that the database must first hold (its own site, say).
NEW_RECORD_ROOM: dict[str, Callable[[Any], dict[str, str]]] = {
    "labs.NormalRange": _a_site_without_ranges,
}

#: Form fields whose value is kept elsewhere than a model field of the same name.
NOT_STORED = frozenset({"reason_for_change", "password1", "password2", "usable_password"})


def _an_administrator() -> User:
    """An administrator as the admin's permission checks see her: her role, and none of
    Django's per-model permissions (the study grants by role, never by those)."""
    user = User(username="administrator", role=Role.ADMIN, is_staff=True, is_active=True)
    user._perm_cache = set()  # type: ignore[attr-defined]
    user._user_perm_cache = set()  # type: ignore[attr-defined]
    user._group_perm_cache = set()  # type: ignore[attr-defined]
    return user


def _request(user: User) -> HttpRequest:
    request = RequestFactory().post("/admin/")
    request.user = user
    return request


def admin_may(model_admin: ModelAdmin[Any], mode: str, user: User) -> bool:
    request = _request(user)
    if mode == "add":
        return bool(model_admin.has_add_permission(request))
    return bool(model_admin.has_change_permission(request))


def admin_forms(user: User) -> set[tuple[str, str]]:
    """(model label, mode) of every add and change page ``user`` may use."""
    return {
        (model._meta.label, mode)
        for model, model_admin in admin.site._registry.items()
        for mode in MODES
        if admin_may(model_admin, mode, user)
    }


# -- what a browser posts ----------------------------------------------------------------


def posted(form: forms.BaseForm) -> dict[str, Any]:
    """The values a browser posts for an unbound form as the page shows it."""
    data: dict[str, Any] = {}
    for bound in form:
        field = bound.field
        if field.disabled:
            continue
        value = bound.value()
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
            continue
        if isinstance(widget, forms.MultiWidget):
            parts = value if isinstance(value, list | tuple) else widget.decompress(value)
            for index, (sub, part) in enumerate(zip(widget.widgets, parts, strict=False)):
                data[f"{bound.html_name}_{index}"] = sub.format_value(part) or ""
            continue
        shown = widget.format_value(value)
        if isinstance(widget, forms.SelectMultiple):
            data[bound.html_name] = [str(v) for v in shown or []]
        elif isinstance(shown, list):
            data[bound.html_name] = shown[0] if shown else ""
        else:
            data[bound.html_name] = "" if shown is None else str(shown)
    return data


def _formsets(
    model_admin: ModelAdmin[Any], request: HttpRequest, record: models.Model | None
) -> Iterator[Any]:
    prefixes: dict[str, int] = {}
    for formset_class, inline in model_admin.get_formsets_with_inlines(request, record):
        prefix = formset_class.get_default_prefix()
        prefixes[prefix] = prefixes.get(prefix, 0) + 1
        if prefixes[prefix] != 1:
            prefix = f"{prefix}-{prefixes[prefix]}"
        yield formset_class(
            instance=record or model_admin.model(),
            prefix=prefix,
            queryset=inline.get_queryset(request),
        )


def page_values(ctx: Ctx) -> dict[str, Any]:
    """What the page posts unchanged: its form, each inline's management form and rows."""
    source = ctx.record if ctx.record is not None else ctx.source
    values = posted(ctx.form_class(instance=source))
    for formset in _formsets(ctx.model_admin, ctx.request, ctx.record):
        values |= posted(formset.management_form)
        for form in formset.initial_forms:
            values |= posted(form)
    if ctx.record is None:
        values.pop("reason_for_change", None)
        values |= ctx.new_values
    return values


# -- the targets -------------------------------------------------------------------------


def _setup(model: type[models.Model], mode: str) -> Any:
    def setup(scene: Any) -> Ctx:
        user = scene.user("admin")
        scene.user("monitor")  # an account besides hers, to change
        model_admin = admin.site._registry[model]
        request = _request(user)
        records = model._default_manager.order_by("pk")
        if model is type(user):
            # Not her own account: changing it could sign her out mid-run.
            records = records.exclude(pk=user.pk)
        source = records.first()
        assert source is not None, f"No {model._meta.label} to copy or change in the admin"
        record = source if mode == "change" else None
        new_values = {}
        if record is None:
            room = NEW_RECORD_ROOM.get(model._meta.label)
            new_values = NEW_RECORD_VALUES.get(model._meta.label, {}) | (
                room(scene) if room else {}
            )
        return Ctx(
            client=scene.web("admin"),
            user=user,
            model=model,
            model_admin=model_admin,
            request=request,
            record=record,
            source=source,
            new_values=new_values,
            newest_before=model._default_manager.order_by("-pk").values_list("pk", flat=True)[0],
            form_class=model_admin.get_form(request, record, change=record is not None),
        )

    return setup


def _build(ctx: Ctx, data: Any, files: Any) -> forms.BaseForm:
    """The page's form bound to what was posted, judged on the records as they were
    before the post (a record the post added would otherwise clash with itself)."""
    if ctx.record is not None:
        instance = type(ctx.record)._default_manager.get(pk=ctx.record.pk)
        form: forms.BaseForm = ctx.form_class(data, files, instance=instance)
        return form
    form = ctx.form_class(data, files)
    if data is not None:
        with transaction.atomic():
            ctx.model._default_manager.filter(pk__gt=ctx.newest_before).delete()
            form.is_valid()
            transaction.set_rollback(True)
    return form


def _stored(ctx: Ctx) -> models.Model | None:
    if ctx.record is not None:
        return type(ctx.record)._default_manager.get(pk=ctx.record.pk)
    return ctx.model._default_manager.order_by("-pk").first()


def _shown_at(ctx: Ctx, record: models.Model) -> str:
    opts = record._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])


def _schema(model_admin: ModelAdmin[Any], mode: str) -> type:
    if mode == "add" and getattr(model_admin, "add_form", None) is not None:
        return model_admin.add_form  # type: ignore[no-any-return]
    return model_admin.form  # type: ignore[no-any-return]


def _path(model: type[models.Model], mode: str) -> Any:
    opts = model._meta
    if mode == "add":
        return lambda c: reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    return lambda c: reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[c.record.pk])


def _targets() -> dict[tuple[str, str], Target]:
    administrator = _an_administrator()
    targets = {}
    for model in sorted(admin.site._registry, key=lambda m: m._meta.label):
        model_admin = admin.site._registry[model]
        for mode in MODES:
            if not admin_may(model_admin, mode, administrator):
                continue
            opts = model._meta
            targets[(opts.label, mode)] = Target(
                name=f"admin_{opts.app_label}_{opts.model_name}_{mode}",
                schema=_schema(model_admin, mode),
                role="admin",
                method="post",
                path=_path(model, mode),
                setup=_setup(model, mode),
                baseline=page_values,
                build=_build,
                stored=_stored,
                not_stored=NOT_STORED,
                shown_at=_shown_at,
                weight=0.5,
            )
    return targets


#: the targets by (model label, mode) of the page
ADMIN_PAGES: dict[tuple[str, str], Target] = _targets()


def _account_to_change(scene: Any) -> Ctx:
    scene.user("admin")
    return Ctx(client=scene.web("admin"), user=scene.user("admin"), record=scene.user("monitor"))


#: Pages a ModelAdmin adds of its own (``get_urls``) that take input, by URL name.
OWN_PAGES: dict[str, Target] = {
    "auth_user_password_change": Target(
        name="admin_user_password",
        schema=admin.site._registry[User].change_password_form,
        role="admin",
        method="post",
        path=lambda c: reverse("admin:auth_user_password_change", args=[c.record.pk]),
        setup=_account_to_change,
        baseline=lambda c: {"password1": f"{PASSWORD}-reset", "password2": f"{PASSWORD}-reset"},
        build=lambda c, d, f: admin.site._registry[User].change_password_form(
            User.objects.get(pk=c.record.pk), d
        ),
        stored=lambda c: User.objects.get(pk=c.record.pk),
        not_stored=NOT_STORED,
        weight=0.5,
    ),
}

#: Pages a ModelAdmin adds of its own that take no input from a client, and why.
OWN_PAGES_WITHOUT_INPUT: dict[str, str] = {
    "otp_totp_totpdevice_config": "shows an authenticator's set-up; posts nothing",
    "otp_totp_totpdevice_qrcode": "an authenticator's QR code image",
}

ADMIN_TARGETS: list[Target] = [*ADMIN_PAGES.values(), *OWN_PAGES.values()]
