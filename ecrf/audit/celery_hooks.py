"""Every write made by a Celery task names the task and its id in the audit context."""

from __future__ import annotations

from typing import Any

import pghistory
from celery.signals import task_postrun, task_prerun

_open_contexts: dict[str, Any] = {}


@task_prerun.connect
def _enter_task_context(task_id: str, task: Any, **_: Any) -> None:
    ctx = pghistory.context(source="celery", task=task.name, task_id=task_id)
    ctx.__enter__()
    _open_contexts[task_id] = ctx


@task_postrun.connect
def _exit_task_context(task_id: str, **_: Any) -> None:
    ctx = _open_contexts.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)
