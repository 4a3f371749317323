"""Site-wide pages: the home page that points each person to where they work."""

from django.db import connection
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from workspaces.admin_scoping import is_workspace_admin
from workspaces.models import BUILDER_ROLES
from workspaces.selectors import membership_list_for_user


def home(request):
    context = {}
    if request.user.is_authenticated:
        memberships = membership_list_for_user(user=request.user)
        context = {
            "memberships": memberships,
            "can_build": any(m.role in BUILDER_ROLES for m in memberships),
            "can_admin": request.user.is_superuser or is_workspace_admin(request.user),
        }
    return render(request, "home.html", context)


def healthz(request):
    """Liveness for load balancers: the process answers and the database is reachable."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def not_found(request, exception=None):
    """404 in the caller's language: JSON under /api/, a page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return render(request, "404.html", status=404)


@require_GET
def favicon(request):
    """/favicon.ico, which browsers ask for on pages without an icon link (the admin's, the API
    document): the site's SVG icon, so that no page logs a 404."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))
