"""Login with throttling: repeated failures for one username, or from one address, are slowed
down to a stop, with a clear message and a 429, before the password is even checked."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

WINDOW_SECONDS = 15 * 60


def _keys(request) -> list[str]:
    username = (request.POST.get("username") or "").strip().lower()[:150]
    address = request.META.get("REMOTE_ADDR", "")
    return [f"login-fail:user:{username}", f"login-fail:addr:{address}"]


# One address may be shared by many people (an office's NAT), so it gets more room.
ADDRESS_ALLOWANCE = 5


def _throttled(keys) -> bool:
    user_key, address_key = keys
    limit = settings.LOGIN_MAX_FAILURES
    return cache.get(user_key, 0) >= limit or cache.get(address_key, 0) >= limit * ADDRESS_ALLOWANCE


def _record_failure(request) -> None:
    for key in _keys(request):
        cache.add(key, 0, WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)


def _forget_failures(request) -> None:
    cache.delete_many(_keys(request)[:1])


def _throttled_page(request, form, next_url: str) -> TemplateResponse:
    return TemplateResponse(
        request,
        "registration/login.html",
        {"form": form, "throttled": True, "next": next_url},
        status=429,
        headers={"Retry-After": str(WINDOW_SECONDS)},
    )


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        if _throttled(_keys(request)):
            return _throttled_page(
                request, self.get_form_class()(request), request.POST.get("next", "")
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        _record_failure(self.request)
        return super().form_invalid(form)

    def form_valid(self, form):
        _forget_failures(self.request)
        return super().form_valid(form)


def throttle_admin_login(login):
    """`login` (an AdminSite's login method) behind the same throttle and the same counters as
    /accounts/login/, so guesses spread over the two pages add up. config/urls.py installs it
    as `admin.site.login`."""

    @never_cache
    def throttled_login(request, extra_context=None):
        from django.contrib.admin.forms import AdminAuthenticationForm

        posted = request.method == "POST"
        if posted and _throttled(_keys(request)):
            return _throttled_page(
                request, AdminAuthenticationForm(request), request.POST.get("next") or "/admin/"
            )
        response = login(request, extra_context)
        if posted:
            # The admin's LoginView redirects on success and re-renders the form on failure
            # (a wrong password, or an account that is not staff).
            if response.status_code == 200:
                _record_failure(request)
            elif request.user.is_authenticated:
                _forget_failures(request)
        return response

    throttled_login.login_throttled = True
    return throttled_login
