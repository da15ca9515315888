"""Abstract building blocks shared by the domain apps."""

from django.db import models


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# The largest primary key (BigAutoField). An id beyond it in a URL or body is simply not found: it must never reach
# the database, where it would overflow the column instead of missing.
MAX_ID = 2**63 - 1
