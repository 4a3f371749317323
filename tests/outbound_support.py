"""Tests call the guarded client with the limits spelled out per call (`timeout=5`,
`resolver=stub`): this builds the OutboundPolicy those keywords describe."""

from outbound import OutboundPolicy, client


def fetch(method, url, *, headers=None, body=None, host_check=None, **limits):
    return client.fetch(
        method,
        url,
        headers=headers,
        body=body,
        host_check=host_check,
        policy=OutboundPolicy().but(**limits),
    )
