"""The access selectors' one-GPT check (`gpt_visible_with_role`) and the list query
(`gpt_list_for_user`) say the same for every visibility, role and creator; the GPT and action
access selectors follow them (404 exactly where the list leaves the GPT out)."""

import itertools

import pytest
from django.http import Http404

from actions.selectors import action_access_for_member
from gpts.models import Visibility
from gpts.selectors import gpt_access_for_member, gpt_list_for_user, gpt_visible_with_role
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.models import Role

ROLES = [None, *Role.values]


def _visible_by_selector(selector, **key) -> bool:
    try:
        selector(**key)
    except Http404:
        return False
    return True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("visibility", "role", "creator"),
    list(itertools.product(Visibility.values, ROLES, [True, False])),
)
def test_one_gpt_rule_matches_the_list_query(visibility, role, creator):
    workspace = make_workspace()
    other = make_workspace()  # a membership elsewhere must not count
    user = make_user()
    add_member(other, user, role=Role.OWNER)
    if role is not None:
        add_member(workspace, user, role=role)
    gpt = make_gpt(workspace, created_by=user if creator else make_user(), visibility=visibility)
    action = make_action(gpt)

    listed = gpt_list_for_user(user=user).filter(pk=gpt.pk).exists()
    assert gpt_visible_with_role(gpt=gpt, user=user, role=role) == listed
    assert _visible_by_selector(gpt_access_for_member, gpt_id=gpt.pk, user=user) == listed
    assert _visible_by_selector(action_access_for_member, action_id=action.pk, user=user) == listed
