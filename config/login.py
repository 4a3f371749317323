"""Login with throttling: repeated failures for one username, or from one address, are slowed
down to a stop, with a clear message and a 429, before the password is even checked."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.template.response import TemplateResponse

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


class ThrottledLoginView(auth_views.LoginView):
    def post(self, request, *args, **kwargs):
        keys = _keys(request)
        if _throttled(keys):
            return TemplateResponse(
                request,
                "registration/login.html",
                {
                    "form": self.get_form_class()(request),
                    "throttled": True,
                    "next": request.POST.get("next", ""),
                },
                status=429,
                headers={"Retry-After": str(WINDOW_SECONDS)},
            )
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        for key in _keys(self.request):
            cache.add(key, 0, WINDOW_SECONDS)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, WINDOW_SECONDS)
        return super().form_invalid(form)

    def form_valid(self, form):
        cache.delete_many(_keys(self.request)[:1])
        return super().form_valid(form)
