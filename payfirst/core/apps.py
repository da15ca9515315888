from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "payfirst.core"
    label = "core"

    def ready(self) -> None:
        from payfirst.core import checks  # noqa: F401 - registers the start-up checks
