"""Every absolute URL the platform hands to someone outside it, built with reverse() in one place.

A provider registers the OAuth callback URL once, so it must be stable per GPT; building it here
(rather than with f-strings next to each caller) keeps every copy of it identical.
"""

from django.conf import settings
from django.urls import reverse


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def callback_url(gpt_id: int) -> str:
    """The OAuth redirect URI of a GPT: `{SITE_URL}/aip/{gpt_id}/oauth/callback`."""
    return absolute(reverse("oauth-callback", args=[gpt_id]))
