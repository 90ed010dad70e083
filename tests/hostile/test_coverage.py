"""No form, serializer or API body escapes the hostile-input suite.

The forms and serializers are found by introspection of every app (``forms`` modules,
``api`` and ``serializers`` modules or packages); each must have a hostile target or be
listed as taking no client input. Every operation of the OpenAPI document that takes a
body must have a target too, and every field of every form and serializer must be of a
kind the hostile strategies know.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest
from django.contrib import admin
from drf_spectacular.generators import SchemaGenerator

import ecrf
from tests.core.admin_matrix import admin_routes

from .admin_targets import ADMIN_PAGES, OWN_PAGES, OWN_PAGES_WITHOUT_INPUT, admin_forms
from .targets import API_TARGETS, NOT_INPUTS, UNROUTED, examined_classes, is_form, is_serializer
from .values import kind_of

pytestmark = pytest.mark.requirement("ICH-E6R3-4.3.3-HOSTILE")

#: modules that define forms or serializers; ``admin`` for the admin's reason forms
INPUT_MODULES = ("forms", "api", "serializers", "admin")


def _app_packages() -> list[str]:
    packages = [f"ecrf.{m.name}" for m in pkgutil.iter_modules(ecrf.__path__) if m.ispkg]
    return [*packages, "randomization"]


def _modules(name: str) -> Iterator[ModuleType]:
    if importlib.util.find_spec(name) is None:
        return
    module = importlib.import_module(name)
    yield module
    if hasattr(module, "__path__"):
        for sub in pkgutil.walk_packages(module.__path__, prefix=f"{name}."):
            yield importlib.import_module(sub.name)


def input_classes() -> set[type]:
    """Every form and serializer class the apps define (not their private bases)."""
    found: set[type] = set()
    for package in _app_packages():
        names = [f"{package}.{m}" for m in INPUT_MODULES]
        if package == "ecrf.api":
            names = [package]
        for name in names:
            for module in _modules(name):
                for attr, value in vars(module).items():
                    if (
                        inspect.isclass(value)
                        and value.__module__ == module.__name__
                        and not attr.startswith("_")
                        and (is_form(value) or is_serializer(value))
                    ):
                        found.add(value)
    return found


def test_the_introspection_finds_the_known_forms_and_serializers():
    from ecrf.api.serializers import ParticipantCreateSerializer
    from ecrf.participants.forms import EligibilityForm
    from randomization.forms import ImportListForm

    found = input_classes()
    assert {ParticipantCreateSerializer, EligibilityForm, ImportListForm} <= found


def test_every_form_and_serializer_has_a_hostile_target():
    known = examined_classes() | set(NOT_INPUTS) | set(UNROUTED)
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in input_classes() - known)
    assert missing == [], (
        f"Forms or serializers without a hostile target (tests/hostile/targets.py): {missing}"
    )


@pytest.mark.django_db  # a model choice's choices are read from the database
@pytest.mark.parametrize(
    "cls",
    sorted(input_classes() - set(NOT_INPUTS), key=lambda c: f"{c.__module__}.{c.__qualname__}"),
    ids=lambda c: c.__qualname__,
)
def test_every_field_has_a_hostile_strategy(cls: type) -> None:
    fields = cls.base_fields if is_form(cls) else cls().fields
    for name, field in fields.items():
        if getattr(field, "read_only", False) or getattr(field, "disabled", False):
            continue
        kind_of(field)  # raises for a field type without a strategy
        assert name


@pytest.mark.django_db
def test_every_api_operation_with_a_body_has_a_hostile_target():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    with_body = {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    covered = {t.operation for t in API_TARGETS}
    assert sorted(with_body - covered) == [], "API operations with a body but no hostile target"


@pytest.mark.django_db
def test_every_admin_form_an_administrator_may_use_has_a_hostile_target(make_user):
    """The targets are chosen before the database is there; an administrator's real
    permissions must agree with the choice."""
    administrator = make_user("admin")
    assert set(ADMIN_PAGES) == admin_forms(administrator)


def test_every_page_of_a_model_admin_of_its_own_is_examined_or_takes_no_input():
    own = {route.own_name for route in admin_routes() if route.own_name}
    known = set(OWN_PAGES) | set(OWN_PAGES_WITHOUT_INPUT)
    assert sorted(own - known) == [], "admin pages of a ModelAdmin's own without a target"
    assert sorted(known - own) == [], "listed admin pages that no longer exist"


@pytest.mark.django_db
def test_no_admin_action_escapes_the_hostile_suite(rf, make_user):
    """An admin action (a reason asked for on a list of records, say) takes input the
    targets do not reach: none is offered to an administrator until one has a target."""
    request = rf.post("/admin/")
    request.user = make_user("admin")
    offered = {
        f"{model._meta.label}.{name}"
        for model, model_admin in admin.site._registry.items()
        if model_admin.has_view_or_change_permission(request)  # else its list is shut to her
        for name in model_admin.get_actions(request)
    }
    assert offered == set()
