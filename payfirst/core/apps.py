from django.apps import AppConfig

from payfirst.core import checks  # noqa: F401 - registers the system checks


class CoreConfig(AppConfig):
    name = "payfirst.core"
    label = "core"

    def ready(self) -> None:
        pass  # noqa: F401 - registers the start-up checks
