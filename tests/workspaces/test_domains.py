"""workspaces.domains: host normalisation, allowlist entries, and the policy matcher.

Pure Python: no database, no network.
"""

import dataclasses
import random
import string

import idna
import pytest

from workspaces import domains
from workspaces.domains import (
    NO_DOMAINS_ALLOWED,
    DomainError,
    DomainNotAllowed,
    DomainPolicy,
    host_from_url,
    normalize_host,
    parse_allowlist_bulk,
    parse_allowlist_entry,
    registrable_domain,
)

# The matching rules, case by case: (entries, host, allowed) -------------------------------

MATCH_CASES = [
    # exact host and its subdomains
    pytest.param(["example.com"], "example.com", True, id="exact"),
    pytest.param(["example.com"], "api.example.com", True, id="subdomain"),
    pytest.param(["example.com"], "v1.api.example.com", True, id="deeper-subdomain"),
    pytest.param(["example.com"], "a.b.c.d.example.com", True, id="much-deeper-subdomain"),
    pytest.param(["example.com"], "example.org", False, id="other-tld"),
    pytest.param(["example.com"], "com", False, id="entry-parent-tld"),
    # wildcard: subdomains only
    pytest.param(["*.example.com"], "example.com", False, id="wildcard-not-apex"),
    pytest.param(["*.example.com"], "api.example.com", True, id="wildcard-subdomain"),
    pytest.param(["*.example.com"], "v1.api.example.com", True, id="wildcard-deeper"),
    pytest.param(["*.example.com", "example.com"], "example.com", True, id="wildcard-plus-apex"),
    pytest.param(["*.api.example.com"], "example.com", False, id="wildcard-grandparent"),
    pytest.param(["*.api.example.com"], "api.example.com", False, id="wildcard-own-apex"),
    pytest.param(["*.api.example.com"], "x.api.example.com", True, id="wildcard-deep-entry"),
    # a subdomain entry never allows its parent, nor its siblings
    pytest.param(["api.example.com"], "example.com", False, id="subdomain-entry-vs-parent"),
    pytest.param(["api.example.com"], "www.example.com", False, id="sibling"),
    pytest.param(["api.example.com"], "v2.api.example.com", True, id="subdomain-entry-child"),
    pytest.param(["api.example.com"], "apiexample.com", False, id="sibling-glued"),
    # suffix tricks
    pytest.param(["example.com"], "evilexample.com", False, id="suffix-trick"),
    pytest.param(["example.com"], "api.evilexample.com", False, id="suffix-trick-sub"),
    pytest.param(["example.com"], "example.com.evil.net", False, id="prefix-trick"),
    pytest.param(["example.com"], "example.comevil.net", False, id="glued-tld"),
    pytest.param(["example.com"], "xexample.com", False, id="one-letter-more"),
    pytest.param(["*.example.com"], "evilexample.com", False, id="wildcard-suffix-trick"),
    pytest.param(["*.example.com"], "-.example.com", False, id="invalid-subdomain-host"),
    # IDN: Unicode and punycode are the same host
    pytest.param(["xn--bcher-kva.example"], "bücher.example", True, id="idn-unicode-host"),
    pytest.param(["xn--bcher-kva.example"], "BÜCHER.example", True, id="idn-upper-unicode"),
    pytest.param(["xn--bcher-kva.example"], "xn--bcher-kva.example", True, id="idn-punycode"),
    pytest.param(["xn--bcher-kva.example"], "api.bücher.example", True, id="idn-subdomain"),
    pytest.param(["xn--bcher-kva.example"], "bucher.example", False, id="idn-not-ascii-lookalike"),
    pytest.param(["bücher.example"], "xn--bcher-kva.example", True, id="idn-entry-unicode"),
    # case and trailing dots, on either side
    pytest.param(["example.com"], "EXAMPLE.COM", True, id="upper-host"),
    pytest.param(["example.com"], "Api.Example.Com", True, id="mixed-case-subdomain"),
    pytest.param(["Example.COM"], "example.com", True, id="upper-entry"),
    pytest.param(["example.com"], "example.com.", True, id="trailing-dot-host"),
    pytest.param(["example.com."], "example.com", True, id="trailing-dot-entry"),
    pytest.param(["example.com."], "api.example.com.", True, id="trailing-dot-both"),
    pytest.param(["example.com"], "example.com..", False, id="two-trailing-dots"),
    # ports play no part
    pytest.param(["example.com"], "example.com:8443", True, id="port-ignored"),
    pytest.param(["example.com"], "api.example.com:443", True, id="port-ignored-subdomain"),
    pytest.param(["example.com"], "evil.net:443", False, id="port-no-help"),
    # several entries, IP entries (allowed by the deployment) match only exactly
    pytest.param(["a.example", "b.example"], "x.b.example", True, id="second-entry"),
    pytest.param(["a.example", "*.b.example"], "c.example", False, id="none-of-several"),
    pytest.param(["10.0.0.1"], "10.0.0.1", True, id="ip-exact"),
    pytest.param(["10.0.0.1"], "10.0.0.1:8080", True, id="ip-port"),
    pytest.param(["10.0.0.1"], "10.0.0.2", False, id="ip-other"),
    pytest.param(["10.0.0.1"], "1.10.0.0.1", False, id="ip-no-subdomains"),
    pytest.param(["2001:db8::1"], "[2001:DB8:0::1]:443", True, id="ipv6-spellings"),
    # garbage is never allowed
    pytest.param(["example.com"], "", False, id="empty-host"),
    pytest.param(["example.com"], "exa mple.com", False, id="space-in-host"),
    pytest.param(["example.com"], "evil.net/.example.com", False, id="slash-in-host"),
]


@pytest.mark.parametrize(("entries", "host", "allowed"), MATCH_CASES)
def test_matching_rules(entries, host, allowed):
    policy = DomainPolicy(allow_all=False, entries=entries)
    assert policy.allows(host) is allowed
    if allowed:
        policy.check(host)
    else:
        with pytest.raises(DomainNotAllowed):
            policy.check(host)


def test_there_are_at_least_forty_matching_cases():
    assert len(MATCH_CASES) >= 40


@pytest.mark.parametrize("host", ["example.com", "anything.invalid", "10.0.0.1", "☃"])
def test_allow_all_allows_everything(host):
    assert DomainPolicy(allow_all=True, entries=[]).allows(host)
    assert DomainPolicy(allow_all=True, entries=["example.com"]).allows(host)
    assert DomainPolicy.allow_everything().allows(host)
    DomainPolicy.allow_everything().check(host)


def test_empty_policy_allows_nothing_with_the_exact_message():
    policy = DomainPolicy(allow_all=False, entries=[])
    assert not policy.allows("example.com")
    with pytest.raises(DomainNotAllowed) as caught:
        policy.check("api.example.com")
    assert caught.value.detail == "No domains are allowed by your workspace's settings."
    assert caught.value.detail == NO_DOMAINS_ALLOWED
    assert caught.value.host == "api.example.com"
    assert str(caught.value) == caught.value.detail


def test_default_policy_is_empty():
    assert not DomainPolicy().allows("example.com")


def test_denied_host_message_names_the_normalised_host():
    policy = DomainPolicy(allow_all=False, entries=["example.com"])
    with pytest.raises(DomainNotAllowed) as caught:
        policy.check("API.Evil.com.:443")
    assert caught.value.host == "api.evil.com"
    assert caught.value.detail == (
        "The domain api.evil.com is not allowed by your workspace's settings."
    )


def test_invalid_host_is_refused_with_the_reason():
    policy = DomainPolicy(allow_all=False, entries=["example.com"])
    with pytest.raises(DomainNotAllowed) as caught:
        policy.check("exa_mple.com")
    assert "contains characters a domain name cannot have" in caught.value.detail


def test_policy_is_frozen_and_compares_by_canonical_entries():
    policy = DomainPolicy(allow_all=False, entries=["Example.com.", "*.B.example"])
    assert policy == DomainPolicy(allow_all=False, entries=["example.com", "*.b.example"])
    assert policy.entries == frozenset({"example.com", "*.b.example"})
    assert hash(policy) == hash(DomainPolicy(False, ["*.b.example", "example.com"]))
    assert "entries=<2>" in repr(policy)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.allow_all = True


def test_policy_accepts_any_iterable_and_duplicates():
    policy = DomainPolicy(allow_all=False, entries=(e for e in ["a.example", "a.example"]))
    assert policy.entries == frozenset({"a.example"})


@pytest.mark.parametrize("entry", ["exa mple.com!", "a..example", "*.-x.example", ""])
def test_policy_refuses_a_garbage_entry(entry):
    with pytest.raises(DomainError):
        DomainPolicy(allow_all=False, entries=[entry])


def test_lookup_with_ten_thousand_entries():
    entries = [f"site{i}.example" for i in range(5_000)]
    entries += [f"*.team{i}.example" for i in range(5_000)]
    policy = DomainPolicy(allow_all=False, entries=entries)
    assert policy.allows("site4999.example")
    assert policy.allows("a.b.site17.example")
    assert policy.allows("x.team4321.example")
    assert not policy.allows("team4321.example")
    assert not policy.allows("site5000.example")


def test_lookup_walks_the_host_not_the_list():
    """O(labels): the matcher asks about the host's candidate patterns only."""

    class CountingSet(frozenset):
        asked: list

        def isdisjoint(self, other):
            other = list(other)
            type(self).asked.extend(other)
            return super().isdisjoint(other)

    CountingSet.asked = []
    policy = DomainPolicy(allow_all=False, entries=[f"s{i}.example" for i in range(10_000)])
    object.__setattr__(policy, "entries", CountingSet(policy.entries))
    assert not policy.allows("a.b.c.evil.example")
    assert CountingSet.asked == domains.candidate_patterns("a.b.c.evil.example")
    assert CountingSet.asked == [
        "a.b.c.evil.example",
        "b.c.evil.example",
        "c.evil.example",
        "evil.example",
        "example",
        "*.b.c.evil.example",
        "*.c.evil.example",
        "*.evil.example",
        "*.example",
    ]


def test_an_ip_address_is_its_only_candidate():
    assert domains.candidate_patterns("10.0.0.1") == ["10.0.0.1"]
    assert domains.candidate_patterns("2001:db8::1") == ["2001:db8::1"]


def test_empty_policy_says_no_domains_even_for_an_invalid_host():
    with pytest.raises(DomainNotAllowed) as caught:
        DomainPolicy(allow_all=False, entries=[]).check("exa_mple.com")
    assert caught.value.detail == NO_DOMAINS_ALLOWED


# normalize_host ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        ("  example.com  ", "example.com"),
        ("BÜCHER.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("ＥＸＡＭＰＬＥ．ｃｏｍ", "example.com"),  # full-width letters and dot (UTS #46)
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2008: ß is kept, not mapped to ss
        ("example.com:8443", "example.com"),
        ("localhost", "localhost"),
        ("localhost:8000", "localhost"),
        ("10.0.0.1", "10.0.0.1"),
        ("10.0.0.1:80", "10.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("[::1]:8443", "::1"),
        ("2001:DB8:0:0::1", "2001:db8::1"),
        ("a-b.example", "a-b.example"),
        ("123.example", "123.example"),
    ],
)
def test_normalize_host(host, expected):
    assert normalize_host(host) == expected


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("", "Enter a host name such as example.com."),
        ("   ", "Enter a host name such as example.com."),
        ("a..com", "a..com has an empty part: check for two dots in a row or a dot at the start."),
        (".example.com", "has an empty part"),
        ("example.com..", "has an empty part"),
        ("exa_mple.com", "contains characters a domain name cannot have"),
        ("ex%61mple.com", "contains characters a domain name cannot have"),
        ("example.com／evil.net", "contains characters a domain name cannot have"),
        ("☃.com", "contains characters a domain name cannot have"),
        ("-api.example.com", "cannot start or end with a hyphen: -api"),
        ("api-.example.com", "cannot start or end with a hyphen: api-"),
        ("ab--cd.example.com", "hyphens in the third and fourth places"),
        ("xn--zz.example.com", "xn--zz is not valid punycode."),
        ("x" * 64 + ".com", "at most 63 characters; xxxxxxxxxxxxxxxxxxxx… has 64."),
        ("ü" * 60 + ".com", "at most 63 characters"),  # counted in punycode octets
        (".".join(["a" * 60] * 5), "at most 253 characters; this one has 304."),
        ("x" * 2000, "at most 253 characters"),
        ("127.1", "127.1 is neither a valid IP address nor a valid domain name."),
        ("2130706433", "neither a valid IP address nor a valid domain name"),
        ("0x7f.0x1", "neither a valid IP address nor a valid domain name"),
        ("1.2.3.4.5", "neither a valid IP address nor a valid domain name"),
        ("256.1.1.1", "neither a valid IP address nor a valid domain name"),
        ("[example.com]", "[example.com] is not a valid host."),
        ("[::1", "is not a valid host"),
        ("[::1]x", "is not a valid host"),
        ("1:2:3", "is not a valid host"),
        ("fe80::1%eth0", "remove the zone after %"),
        ("example.com:", "contains characters a domain name cannot have"),
    ],
)
def test_normalize_host_refuses(host, message):
    with pytest.raises(DomainError) as caught:
        normalize_host(host)
    assert message in str(caught.value)


def test_domain_error_is_a_value_error():
    with pytest.raises(ValueError):
        normalize_host("a..b")


def test_plain_ascii_fast_path_agrees_with_idna():
    """The shortcut for plain ASCII names gives what the IDNA library gives, or refuses."""
    rng = random.Random(20261124)
    alphabet = string.ascii_letters + string.digits + "-."
    samples = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(3000)
    ]
    for sample in samples:
        fast = domains._plain_ascii_labels(sample)
        if fast is None:
            continue
        expected = idna.encode(sample, uts46=True, std3_rules=True).decode().removesuffix(".")
        assert ".".join(fast) == expected, sample


# host_from_url ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com", "example.com"),
        ("https://Example.COM:443/path?q=1#frag", "example.com"),
        ("HTTP://api.example.com./v1", "api.example.com"),
        ("https://BÜCHER.example/", "xn--bcher-kva.example"),
        ("  https://example.com/  ", "example.com"),
        ("http://127.0.0.1:8000/schema.json", "127.0.0.1"),
        ("http://[::1]:8000/", "::1"),
        ("http://localhost:8000/", "localhost"),
        ("https://example.com:/", "example.com"),
    ],
)
def test_host_from_url(url, expected):
    assert host_from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter a URL such as https://example.com/."),
        ("example.com", "Enter an http or https URL"),
        ("ftp://example.com/", "Enter an http or https URL"),
        ("javascript:alert(1)", "Enter an http or https URL"),
        ("//example.com/", "Enter an http or https URL"),
        ("https://", "has no host"),
        ("https:example.com", "has no host"),
        ("https://:443/", "has no host"),
        ("https://example.com:99999/", "is not a valid URL"),
        ("https://[::1/", "is not a valid URL"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://example.com@evil.net/", "user name or password"),
        ("https://example.com\\@evil.net/", "spaces, backslashes or control characters"),
        ("https://exa\tmple.com/", "spaces, backslashes or control characters"),
        ("https://exa mple.com/", "spaces, backslashes or control characters"),
        ("https://exa_mple.com/", "contains characters a domain name cannot have"),
        ("https://127.1/", "neither a valid IP address nor a valid domain name"),
    ],
)
def test_host_from_url_refuses(url, message):
    with pytest.raises(DomainError) as caught:
        host_from_url(url)
    assert message in str(caught.value)


# parse_allowlist_entry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", "example.com"),
        ("api.example.com", "api.example.com"),
        ("*.example.com", "*.example.com"),
        ("Example.COM.", "example.com"),
        ("  example.com\t", "example.com"),
        ("*.EXAMPLE.com.", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("*.BÜCHER.example", "*.xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("example.co.uk", "example.co.uk"),
        ("*.example.co.uk", "*.example.co.uk"),
        ("corp.internal", "corp.internal"),  # a TLD the list does not know
        ("*.corp.example", "*.corp.example"),
        ("me.github.io", "me.github.io"),  # a site under a private suffix
        ("*.me.github.io", "*.me.github.io"),
        ("bucket.s3.amazonaws.com", "bucket.s3.amazonaws.com"),
        ("oauth2.googleapis.com", "oauth2.googleapis.com"),
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # an exception to *.kawasaki.jp
        ("google.com", "google.com"),
    ],
)
def test_valid_entries_are_normalised(raw, expected):
    assert parse_allowlist_entry(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # not a host at all
        ("", "Enter a domain name such as example.com."),
        ("   ", "Enter a domain name such as example.com."),
        ("https://example.com", "Enter a domain name such as example.com, not a URL."),
        ("http://example.com/", "Enter a domain name such as example.com, not a URL."),
        ("HTTPS://EXAMPLE.COM", "Enter a domain name such as example.com, not a URL."),
        ("ftp://example.com", "Enter a domain name such as example.com, not a URL."),
        ("https:example.com", "Enter a domain name such as example.com, not a URL."),
        ("example.com/path", "Enter only the domain name, without a path: example.com"),
        ("example.com/", "Enter only the domain name, without a path: example.com"),
        ("example.com?q=1", "Enter only the domain name, without a path: example.com"),
        ("example.com#top", "Enter only the domain name, without a path: example.com"),
        ("/api", "Enter a domain name such as example.com, not a path."),
        ("user@example.com", "Enter a domain name such as example.com, not an e-mail address."),
        ("a.com b.com", "Enter one domain name at a time, without spaces or commas."),
        ("a.com,b.com", "Enter one domain name at a time, without spaces or commas."),
        # ports
        ("example.com:443", "Ports play no part in the policy: enter example.com without :443."),
        ("*.example.com:8080", "enter *.example.com without :8080."),
        ("[::1]:443", "Ports play no part in the policy: enter [::1] without :443."),
        # IP literals
        ("10.0.0.1", "IP addresses are not accepted: enter a domain name such as example.com."),
        ("127.0.0.1", "IP addresses are not accepted"),
        ("::1", "IP addresses are not accepted"),
        ("2001:db8::1", "IP addresses are not accepted"),
        ("[2001:db8::1]", "IP addresses are not accepted"),
        ("*.10.0.0.1", "10.0.0.1 is neither a valid IP address nor a valid domain name."),
        ("127.1", "neither a valid IP address nor a valid domain name"),
        # wildcards
        (
            "*",
            "A lone * is not accepted: to allow every domain, tick Allow all domains for GPT "
            "Actions instead.",
        ),
        ("*.", "A lone * is not accepted"),
        (
            "*example.com",
            "* is only accepted at the start, followed by a dot, as in *.example.com.",
        ),
        ("api.*.example.com", "* is only accepted at the start"),
        ("example.*", "* is only accepted at the start"),
        ("*.*.example.com", "* is only accepted at the start"),
        ("**.example.com", "* is only accepted at the start"),
        # label and length rules, characters
        ("a..com", "a..com has an empty part: check for two dots in a row or a dot at the start."),
        (".example.com", "has an empty part"),
        ("x" * 64 + ".example.com", "at most 63 characters; xxxxxxxxxxxxxxxxxxxx… has 64."),
        (".".join(["a" * 63] * 4) + ".com", "A domain name is at most 253 characters"),
        ("exa_mple.com", "contains characters a domain name cannot have"),
        ("exa!mple.com", "contains characters a domain name cannot have"),
        ("☃.example.com", "contains characters a domain name cannot have"),
        ("-api.example.com", "cannot start or end with a hyphen"),
        ("xn--zz.example.com", "is not valid punycode"),
        # public suffixes, ICANN section
        (
            "com",
            "com is a top-level domain: it would allow every site under it. Enter a domain "
            "such as example.com.",
        ),
        (
            "*.com",
            "*.com would allow every site under com, a top-level domain. Enter a domain "
            "such as example.com.",
        ),
        (
            "co.uk",
            "co.uk is a public suffix anyone can register under: it would allow every "
            "site under it. Enter a domain such as example.co.uk.",
        ),
        (
            "*.co.uk",
            "*.co.uk would allow every site under co.uk, a public suffix anyone can "
            "register under.",
        ),
        ("CO.UK.", "co.uk is a public suffix"),
        ("公司.cn", "公司.cn is a public suffix"),  # shown as typed, not in punycode
        ("foo.ck", "foo.ck is a public suffix"),  # by the wildcard rule *.ck
        ("internal", "internal is a top-level domain"),  # unlisted TLDs too
        ("localhost", "localhost is a top-level domain"),
        # public suffixes, private section: shared hosting
        (
            "github.io",
            "github.io is a shared hosting domain anyone can publish under: it would "
            "allow every site under it. Enter a domain such as example.github.io.",
        ),
        (
            "*.github.io",
            "*.github.io would allow every site under github.io, a shared hosting domain",
        ),
        ("googleapis.com", "googleapis.com is a shared hosting domain"),
        ("s3.amazonaws.com", "s3.amazonaws.com is a shared hosting domain"),
        # entries that contain an ICANN public suffix
        ("kawasaki.jp", "Each subdomain of kawasaki.jp is a public suffix"),
    ],
)
def test_invalid_entries_are_refused_with_a_clear_message(raw, message):
    with pytest.raises(DomainError) as caught:
        parse_allowlist_entry(raw)
    assert message in str(caught.value)


def test_url_message_is_exact():
    with pytest.raises(DomainError) as caught:
        parse_allowlist_entry("https://example.com")
    assert str(caught.value) == "Enter a domain name such as example.com, not a URL."


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[2001:DB8::1]", "2001:db8::1"),
        ("localhost", "localhost"),
        ("example.com", "example.com"),
    ],
)
def test_ip_literals_when_the_deployment_allows_them(raw, expected):
    assert parse_allowlist_entry(raw, allow_ip_literals=True) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("10.0.0.1:80", "Ports play no part"),
        ("[::1]:443", "Ports play no part"),
        ("*.localhost", "localhost, a top-level domain"),
        ("127.1", "neither a valid IP address"),
        ("com", "top-level domain"),
    ],
)
def test_ip_literals_allowed_still_refuse_the_rest(raw, message):
    with pytest.raises(DomainError) as caught:
        parse_allowlist_entry(raw, allow_ip_literals=True)
    assert message in str(caught.value)


def test_every_accepted_entry_round_trips():
    for raw in ["example.com", "*.example.com", "bücher.example", "me.github.io"]:
        pattern = parse_allowlist_entry(raw)
        assert parse_allowlist_entry(pattern) == pattern
        assert DomainPolicy(allow_all=False, entries=[pattern]).entries == {pattern}


# parse_allowlist_bulk ----------------------------------------------------------------------


def test_bulk_parse_collects_entries_and_per_line_errors():
    text = "\n".join(
        [
            "example.com",
            "",
            "  *.corp.example  ",
            "https://bad.example",
            "Example.COM.",  # a duplicate by spelling
            "   ",
            "com",
            "bücher.example",
            "a..b.example",
            "xn--bcher-kva.example",  # the same host as line 8
            "example.com:443",
        ]
    )
    entries, errors = parse_allowlist_bulk(text)
    assert entries == ["example.com", "*.corp.example", "xn--bcher-kva.example"]
    assert errors == [
        (4, "https://bad.example", "Enter a domain name such as example.com, not a URL."),
        (
            7,
            "com",
            "com is a top-level domain: it would allow every site under it. Enter a domain "
            "such as example.com.",
        ),
        (
            9,
            "a..b.example",
            "a..b.example has an empty part: check for two dots in a row or a dot at the start.",
        ),
        (
            11,
            "example.com:443",
            "Ports play no part in the policy: enter example.com without :443.",
        ),
    ]


def test_bulk_parse_windows_line_endings_and_empty_text():
    assert parse_allowlist_bulk("a.example\r\nb.example\r\n") == (["a.example", "b.example"], [])
    assert parse_allowlist_bulk("") == ([], [])
    assert parse_allowlist_bulk("\n \n\t\n") == ([], [])


def test_bulk_parse_passes_allow_ip_literals():
    assert parse_allowlist_bulk("10.0.0.1")[1][0][0] == 1
    assert parse_allowlist_bulk("10.0.0.1", allow_ip_literals=True) == (["10.0.0.1"], [])


def test_bulk_parse_reports_each_bad_line_even_when_repeated():
    _, errors = parse_allowlist_bulk("com\ncom\n")
    assert [line for line, _, _ in errors] == [1, 2]


# registrable_domain ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("api.v1.example.com", "example.com"),
        ("API.Example.CO.UK.", "example.co.uk"),
        ("oauth2.googleapis.com", "googleapis.com"),  # ICANN section only
        ("login.microsoftonline.com", "microsoftonline.com"),
        ("accounts.google.com", "google.com"),
        ("api.bücher.example", "xn--bcher-kva.example"),
        ("foo.corp.internal", "corp.internal"),  # unlisted TLD: the last two labels
        ("co.uk", "co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:8000", "::1"),
    ],
)
def test_registrable_domain(host, expected):
    assert registrable_domain(host) == expected


# The Public Suffix List stays offline ------------------------------------------------------


def test_public_suffix_list_is_read_offline(monkeypatch):
    """A fresh extractor answers from the bundled snapshot: no fetch, no name lookup, even
    with the environment naming a list URL."""
    import socket

    import tldextract.cache

    def no_network(*args, **kwargs):
        raise AssertionError("tldextract tried to reach the network")

    monkeypatch.setattr(tldextract.cache.DiskCache, "cached_fetch_url", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setenv("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "https://publicsuffix.org/list/")
    extractor = domains._extractor.__wrapped__()
    assert extractor.suffix_list_urls == ()
    parts = extractor("api.example.co.uk", include_psl_private_domains=False)
    assert (parts.domain, parts.suffix) == ("example", "co.uk")
    assert extractor("me.github.io", include_psl_private_domains=True).is_private


@pytest.mark.parametrize("raw", ["amazonaws.com", "salesforce.com", "rit.edu"])
def test_company_domains_with_customer_hosting_below_are_accepted(raw):
    # Shared hosting lives below them (s3-1.amazonaws.com ...), but the owner of a workspace
    # that uses the company's own API must be able to allow it.
    assert parse_allowlist_entry(raw) == raw
