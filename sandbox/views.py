"""The sandbox demo API: a weather endpoint open to all and a to-do list behind OAuth 2.0.

It lets the whole product run on one machine: the demo GPT's actions call these endpoints
through the same guarded runtime as any external API.
"""

import hashlib

from django.http import JsonResponse
from django.views.decorators.http import require_GET

CONDITIONS = ["sunny", "cloudy", "rain", "snow", "windy", "fog"]


@require_GET
def weather_location(request):
    """GET /sandbox/weather/location?location=Paris: deterministic made-up weather."""
    location = request.GET.get("location", "").strip()
    if not location:
        return JsonResponse(
            {"error": "missing_location", "detail": "The query parameter location is required."},
            status=400,
        )
    if len(location) > 200:
        return JsonResponse(
            {"error": "invalid_location", "detail": "location is at most 200 characters."},
            status=400,
        )
    seed = int.from_bytes(hashlib.sha256(location.lower().encode()).digest()[:4], "big")
    return JsonResponse(
        {
            "location": location,
            "temperature_c": round(-5 + (seed % 400) / 10, 1),
            "conditions": CONDITIONS[seed % len(CONDITIONS)],
            "humidity": seed % 100,
        }
    )
