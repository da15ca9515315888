"""Admin for the periodic scheduler: see when each periodic task next runs; set `next_run_at` to now to run it soon."""

from django.contrib import admin

from payfirst.ops.models import PeriodicTaskState


@admin.register(PeriodicTaskState)
class PeriodicTaskStateAdmin(admin.ModelAdmin):
    list_display = ("name", "next_run_at", "last_enqueued_at", "last_task_result_id")
    readonly_fields = ("name", "last_enqueued_at", "last_task_result_id")
    search_fields = ("name",)

    def has_add_permission(self, request) -> bool:  # rows are created by the scheduler for declared tasks
        return False
