from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views
from config.login import AdminLoginForm, LoginView

# Both login pages are throttled by django-axes at authenticate() (config/login.py); their forms
# refuse text PostgreSQL can not hold and count a non-staff login at the admin as a failure.
admin.site.login_form = AdminLoginForm
admin.site.site_header = "Actions platform administration"
admin.site.site_title = "Actions platform administration"
admin.site.index_title = "Workspaces, GPTs and actions"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("editor/", include("editor.urls")),
    path("api/v1/", include("api.urls")),
    path("o/", include("config.oauth_urls", namespace="oauth2_provider")),
    path("sandbox/", include("sandbox.urls")),
    path("", include("actions.oauth.urls")),
    path("", include("chat.urls")),
    path("", include("workspaces.urls")),
    path("", include("mcp_gateway.urls")),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages without an icon link (the admin's, JSON answers).
    path("favicon.ico", views.favicon, name="favicon"),
]
handler404 = "config.views.not_found"
