"""Scheduler state for periodic tasks: one row per task, claimed by a conditional UPDATE so that exactly one worker
enqueues each run."""

from django.db import models


class PeriodicTaskState(models.Model):
    name = models.CharField(max_length=255, unique=True, help_text="the task's module path")
    next_run_at = models.DateTimeField(help_text="the earliest time the next run is enqueued")
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_task_result_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
