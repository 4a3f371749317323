"""Template filters that show hosts and allowlist entries the way people read them: the
Unicode form beside punycode, and what a `*.` entry allows (workspaces.domains owns both)."""

from django import template

from workspaces.domains import allowlist_entry_meaning, unicode_host

register = template.Library()


@register.filter
def host_unicode(host: str) -> str:
    return unicode_host(host)


@register.filter
def entry_meaning(pattern: str) -> str:
    return allowlist_entry_meaning(pattern)
