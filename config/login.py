"""Login throttling with django-axes, and the pieces of it that stay ours.

Every password check goes through `django.contrib.auth.authenticate()`, and axes' backend (first
in AUTHENTICATION_BACKENDS) refuses it once a username, or an address, has failed
LOGIN_MAX_FAILURES times within 15 minutes: /accounts/login/ and /admin/login/ share the
counters, and any future login view is covered without doing anything. A refused login is a 429
with a clear message and `Retry-After`.

Counters are kept in PostgreSQL (axes' database handler, AccessAttempt rows), not the cache: the
database is already shared by every web process, while the cache is per process unless CACHE_URL
is set, so a cache-backed count would let an attacker spread guesses over processes; the rows
are also visible to superusers in the admin and reset with `manage.py axes_reset_username`.

What axes does not do, kept here:
- an address gets ADDRESS_ALLOWANCE times the username's allowance (many people share an
  office's NAT): axes has one limit for every lockout parameter (`ThrottleHandler.get_failures`);
- a successful login clears that username's failures only. Axes' reset deletes every attempt
  matching any lockout parameter, the address included, so an attacker logging into their own
  account between guesses would reset the counter of the address they guess from
  (`ThrottleHandler.reset_user_attempts`);
- the client address behind the load balancer: with TRUSTED_PROXY_COUNT=N, the address N hops
  from the right of X-Forwarded-For, the one the outermost trusted proxy saw (`client_address`).
  axes delegates that to django-ipware; ten lines do not justify another dependency, and
  REMOTE_ADDR alone is the balancer's address for everyone behind it;
- the username counted as Django authenticates it (`counted_username`);
- a non-staff account's correct password at /admin/login/ counts as a failure there.
"""

import logging
import unicodedata
from datetime import timedelta
from ipaddress import ip_address
from typing import TYPE_CHECKING

from axes.backends import AxesBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_parameters, get_client_username
from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.template.response import TemplateResponse

logger = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
# One address may be shared by many people (an office's NAT), so it gets more room.
ADDRESS_ALLOWANCE = 5


def failure_limit(request, credentials=None) -> int:
    return settings.LOGIN_MAX_FAILURES


def counted_username(request, credentials=None) -> str:
    """AXES_USERNAME_CALLABLE: the username as the login form hands it to ModelBackend
    (stripped, then NFKC: `ｇｉｎａ` is `gina`), also case-folded so `GINA` and `gina` share one
    counter, and made storable (PostgreSQL text holds no NUL and no lone surrogate)."""
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "") if request is not None else ""
    name = unicodedata.normalize("NFKC", str(raw).strip()).casefold()
    name = name.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return name[:150]


def client_address(request) -> str:
    """AXES_CLIENT_IP_CALLABLE: the client as the deployment's trusted proxies saw it."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return remote  # not through every proxy: the nearest peer is all we know
    candidate = forwarded[-hops]
    try:
        return str(ip_address(candidate))
    except ValueError:
        logger.warning("X-Forwarded-For entry %r is not an address", candidate[:64])
        return remote


class ThrottleHandler(AxesDatabaseHandler):
    """axes' database handler with a larger allowance per address and a reset per username."""

    def get_failures(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        parameters = get_client_parameters(
            username, request.axes_ip_address, request.axes_user_agent, request, credentials
        )
        counts = [0]
        attempts_list = self.get_user_attempts(request, credentials)
        for filters, attempts in zip(parameters, attempts_list, strict=True):
            total = attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            counts.append(total if "username" in filters else total // ADDRESS_ALLOWANCE)
        return max(counts)

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count


class LoginBackend(AxesBackend):
    """axes' backend; an authenticate() call without a request (the test client's login(), a
    script) is no web login and is left to ModelBackend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the login page again, saying why, with 429 and Retry-After."""
    admin = request.path.startswith("/admin/")
    form_class = AdminLoginForm if admin else LoginForm
    next_url = request.POST.get("next") or request.GET.get("next") or ("/admin/" if admin else "")
    response = TemplateResponse(
        request,
        "registration/login.html",
        {"form": form_class(request), "throttled": True, "next": next_url},
        status=429,
        headers={"Retry-After": str(int(WINDOW.total_seconds()))},
    )
    return response.render()  # a middleware's answer: past the point responses are rendered


def _storable(value: str) -> None:
    """PostgreSQL text can not hold NUL or lone surrogates: refuse them as bad input, before
    any lookup (a database error otherwise)."""
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise forms.ValidationError("This field contains characters that are not allowed.")


if TYPE_CHECKING:  # mixed into the two login forms below
    _FormBase = forms.Form
else:
    _FormBase = object


class _StorableCredentials(_FormBase):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("username", "password"):
            self.fields[name].validators.append(_storable)


class LoginForm(_StorableCredentials, AuthenticationForm):
    pass


class AdminLoginForm(_StorableCredentials, AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if not user.is_staff:
            # The right password of an account that may not use the admin: a failure here.
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=self.request
            )
        super().confirm_login_allowed(user)


class LoginView(auth_views.LoginView):
    form_class = LoginForm
