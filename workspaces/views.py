"""The page an invited person opens: `/invitations/<token>/` (the `accept_url` of the e-mail).

Signed in, it offers "Join"; signed out, a sign-up form (username and password; the e-mail is
the invited one) or a link to sign in first and come back. The token is the credential, so the
page shows what it invites to only for a pending token; any other token gets the same "not
valid" page (404) whether it never existed, was used, revoked or expired.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from kernel.errors import RuleViolation
from workspaces.invitations import invitation_accept, invitation_for_token


class SignUpForm(UserCreationForm):
    """Django's own sign-up form (username, password twice, the password validators)."""


@require_http_methods(["GET", "POST"])
def invitation_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_for_token(token)
    except RuleViolation as exc:
        return render(request, "invitations/invalid.html", {"detail": exc.detail}, status=404)
    form = SignUpForm()
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                invitation_accept(token=token, user=request.user)
            else:
                form = SignUpForm(request.POST)
                if not form.is_valid():
                    return _page(request, invitation, form, token, status=400)
                with transaction.atomic():  # no account without the membership it was for
                    user = form.save(commit=False)
                    user.email = invitation.email
                    user.save()
                    invitation_accept(token=token, user=user)
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        except RuleViolation as exc:
            messages.error(request, exc.detail)
            return redirect("home")
        messages.success(request, f"You joined {invitation.workspace.name}.")
        return redirect("home")
    return _page(request, invitation, form, token)


def _page(request, invitation, form, token, status=200):
    here = reverse("invitation-accept", args=[token])
    context = {
        "invitation": invitation,
        "form": form,
        "login_url": f"{reverse('login')}?next={here}",
    }
    return render(request, "invitations/accept.html", context, status=status)
