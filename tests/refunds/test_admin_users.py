"""The admin's people pages spell E-mail like the rest of Refund Desk."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_user_pages_say_e_mail(client):
    admin_user = factories.UserFactory(
        username="root@example.com", is_staff=True, is_superuser=True
    )
    person = factories.UserFactory(username="bob@example.com", email="bob@example.com")
    client.force_login(admin_user)
    for path in ("/admin/auth/user/", f"/admin/auth/user/{person.pk}/change/"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.content.decode()
        assert "E-mail address" in body, path
        assert "Email address" not in body, path
    listing = client.get("/admin/auth/user/?o=2").content.decode()  # sorted by the e-mail column
    assert "bob@example.com" in listing
