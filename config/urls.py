from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views
from config.login import ThrottledLoginView, throttle_admin_login

# The admin's login page gets the same throttle as /accounts/login/ (set before admin.site.urls
# is read: its "login/" route takes self.login).
admin.site.login = throttle_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("editor/", include("editor.urls")),
    path("api/v1/", include("api.urls")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("sandbox/", include("sandbox.urls")),
    path("", include("actions.oauth.urls")),
    path("", include("chat.urls")),
    path("healthz", views.healthz, name="healthz"),
]
handler404 = "config.views.not_found"
