import json

import pytest
from rest_framework.test import APIClient

from tests.openapi_responses import install
from tests.world import people

WEATHER = {
    "openapi": "3.1.0",
    "info": {"title": "Get weather data", "version": "v1.0.0"},
    "servers": [{"url": "https://weather.example.com"}],
    "paths": {
        "/location": {
            "get": {
                "operationId": "GetCurrentWeather",
                "summary": "Get temperature for a specific location",
                "parameters": [
                    {
                        "name": "location",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    },
}


def weather_schema(host: str = "weather.example.com", operation_id: str = "GetCurrentWeather"):
    document = json.loads(json.dumps(WEATHER))
    document["servers"][0]["url"] = f"https://{host}"
    document["paths"]["/location"]["get"]["operationId"] = operation_id
    return json.dumps(document, indent=2)


@pytest.fixture
def world(db):
    """The shared cast (tests/world.py): one person per role in Acme, an owner in Globex."""
    return people()


@pytest.fixture
def api():
    def client_for(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """Every response of every API test is checked against /api/v1/schema/ (status declared,
    body valid, no undocumented field): see tests/openapi_responses.py."""
    install(monkeypatch)
