"""The one permission layer of the REST API and the editor pages: which role each HTTP method
needs, declared as data (NetBox's base viewset maps methods to permissions the same way).

A view names the selector that resolves its object for the caller (`access_selector`, one of
the `*_access_for_member` selectors: 404 for strangers, the object and the caller's role
otherwise) and, when its methods need more than the defaults, `access_needs`. The API checks it
in `RolePermission` (one of ApiView's permission classes); editor views in `requires_access`.
A refusal is a 403 `permission_denied` whose detail is the view's `access_denied` sentence.

What a need means for a given object is the selector's business (`Access.can_edit`): a builder
edits the GPTs they created, admins and owners edit everything, and so on.
"""

from collections.abc import Callable, Mapping
from functools import cache, wraps
from inspect import signature

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from workspaces.selectors import Access

READ = "read"  # any member who may see the object (the selector already said so)
BUILD = "build"  # builders, admins and owners of the object's workspace
EDIT = "edit"  # whoever may change this object (Access.can_edit)

# What each method needs unless a view says otherwise: reads read, writes edit.
METHOD_NEEDS: Mapping[str, str] = {
    "GET": READ,
    "HEAD": READ,
    "OPTIONS": READ,
    "POST": EDIT,
    "PUT": EDIT,
    "PATCH": EDIT,
    "DELETE": EDIT,
}


def need_for(method: str, needs: Mapping[str, str] | None = None) -> str:
    return {**METHOD_NEEDS, **(needs or {})}.get(method.upper(), EDIT)


def allows(access: Access, need: str) -> bool:
    if need == READ:
        return True
    if need == BUILD:
        return access.can_build
    return access.can_edit


@cache
def _parameter_names(selector: Callable[..., Access]) -> frozenset[str]:
    # Read once per selector: inspect.signature is slower than the rest of resolve().
    return frozenset(signature(selector).parameters)


def resolve(selector: Callable[..., Access], *, user, url_kwargs: Mapping) -> Access:
    """Call the selector with the URL arguments it names (`gpt_id`, `slug`...)."""
    names = _parameter_names(selector)
    return selector(user=user, **{k: v for k, v in url_kwargs.items() if k in names})


class RolePermission(BasePermission):
    """Resolve the view's object for the caller (404 for strangers) and check the role the
    method needs. The resolved Access is left on the view as `view.access`."""

    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        selector = getattr(view, "access_selector", None)
        if selector is None or not hasattr(view, request.method.lower()):
            return True  # nothing to resolve, or a method DRF answers with 405
        view.access = resolve(selector, user=request.user, url_kwargs=view.kwargs)
        if allows(view.access, need_for(request.method, getattr(view, "access_needs", None))):
            return True
        self.message = view.access_denied
        return False


def requires_access(
    selector: Callable[..., Access],
    *,
    denied: str,
    needs: Mapping[str, str] | None = None,
):
    """The same check for a Django view: the view is called with `access=` (the resolved
    Access) besides its URL arguments; a refusal raises PermissionDenied (the 403 page)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            access = resolve(selector, user=request.user, url_kwargs=kwargs)
            if not allows(access, need_for(request.method, needs)):
                raise PermissionDenied(denied)
            return view(request, *args, access=access, **kwargs)

        return wrapped

    return decorator
