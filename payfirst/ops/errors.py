"""Errors the task queue records on task results."""


class TaskAbandoned(Exception):
    """The worker running a task stopped (killed, crashed, redeployed without a graceful stop) before it finished."""
