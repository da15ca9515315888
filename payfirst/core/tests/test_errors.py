"""The one error shape, for errors raised anywhere."""

import pytest

from payfirst.core.money import Paise


def test_unknown_path_answers_404_in_the_error_shape(client):
    response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["X-Request-ID"]


def test_request_id_is_echoed_when_sane_and_replaced_when_not(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"] != "bad id\n"


@pytest.mark.django_db
def test_readyz_answers_ready_when_migrations_are_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200


def test_paise_rounds_percentages_half_up_and_refuses_floats():
    assert Paise(999).percent(1000) == Paise(100)  # 99.9 -> 100
    assert Paise(994).percent(1000) == Paise(99)  # 99.4 -> 99
    assert Paise(995).percent(1000) == Paise(100)  # 99.5 -> 100 (half up)
    with pytest.raises(TypeError):
        Paise(9.99)  # type: ignore[arg-type]


@pytest.mark.django_db
def test_csrf_failure_answers_403_in_the_error_shape():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
