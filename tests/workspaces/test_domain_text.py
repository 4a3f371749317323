"""How hosts and allowlist entries read to people (issue 17.6): the Unicode form beside
punycode, and what a `*.` entry allows; on the admin's allowlist too."""

import pytest
from django.urls import reverse

from tests.factories import add_member, make_workspace
from workspaces.domains import allowlist_entry_meaning, unicode_host
from workspaces.models import AllowedDomain, Plan, Role


@pytest.mark.parametrize(
    "host,shown",
    [
        ("xn--bcher-kva.example", "bücher.example"),
        ("api.xn--bcher-kva.example", "api.bücher.example"),
        ("*.xn--bcher-kva.example", "*.bücher.example"),
        ("XN--BCHER-KVA.example", "bücher.example"),
        ("example.com", ""),
        ("", ""),
        (None, ""),
        ("xn--zz-.example", ""),  # not valid punycode: nothing made up
        ("xn--", ""),
    ],
)
def test_unicode_host(host, shown):
    assert unicode_host(host) == shown


def test_entry_meaning():
    assert allowlist_entry_meaning("example.com") == "example.com and its subdomains"
    assert allowlist_entry_meaning("*.example.com") == (
        "subdomains of example.com only, not example.com itself"
    )


@pytest.mark.django_db
def test_the_admin_allowlist_says_what_each_entry_allows(client):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE, allow_all_domains=False)
    owner = add_member(acme, role=Role.OWNER, username="owner", staff=True)
    AllowedDomain.objects.create(workspace=acme, pattern="*.xn--bcher-kva.example")
    AllowedDomain.objects.create(workspace=acme, pattern="corp.example")
    client.force_login(owner)
    html = client.get(reverse("admin:workspaces_workspace_change", args=[acme.pk])).content.decode()
    assert "subdomains of xn--bcher-kva.example only" in html
    assert "(reads as *.bücher.example)" in html
    assert "corp.example and its subdomains" in html
