"""The OpenAPI document of the sandbox to-do API, built for this deployment's SITE_URL.

Served at /sandbox/api/openapi.json and used by seed_demo as the "To-do helper" action's schema,
so the action and the API can not drift apart.
"""

import json

from django.conf import settings

TASK_ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string", "maxLength": 200},
        "done": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
    },
    "required": ["id", "title", "done", "created_at"],
}
TASK_ID_PARAMETER = {
    "name": "todo_id",
    "in": "path",
    "required": True,
    "description": "The to-do's id.",
    "schema": {"type": "integer"},
}
ERRORS = {
    "401": {"description": "No valid access token: connect your account."},
    "403": {"description": "The token lacks the todos scope."},
}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def todo_openapi_document(site_url: str | None = None) -> dict:
    base = (site_url or settings.SITE_URL).rstrip("/")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sandbox to-dos",
            "version": "1.0.0",
            "description": "A to-do list per user, protected by the sandbox OAuth provider.",
        },
        "servers": [{"url": f"{base}/sandbox/api"}],
        "security": [{"sandbox_oauth": ["todos"]}],
        "paths": {
            "/todos": {
                "get": {
                    "operationId": "listTodos",
                    "summary": "List your to-dos",
                    "parameters": [
                        {
                            "name": "done",
                            "in": "query",
                            "required": False,
                            "description": "Only finished (true) or open (false) to-dos.",
                            "schema": {"type": "boolean"},
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "todos": {"type": "array", "items": TASK_ITEM_SCHEMA}
                                },
                            },
                            "Your to-dos, oldest first.",
                        ),
                        **ERRORS,
                    },
                },
                "post": {
                    "operationId": "createTodo",
                    "summary": "Add a to-do",
                    # Adding an item is harmless enough that users may choose "Always allow".
                    "x-openai-isConsequential": False,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "title": {"type": "string", "maxLength": 200},
                                        "done": {"type": "boolean"},
                                    },
                                    "required": ["title"],
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _json(TASK_ITEM_SCHEMA, "The new to-do."),
                        "400": {"description": "Invalid to-do."},
                        **ERRORS,
                    },
                },
            },
            "/todos/{todo_id}": {
                "get": {
                    "operationId": "getTodo",
                    "summary": "Read one to-do",
                    "parameters": [TASK_ID_PARAMETER],
                    "responses": {
                        "200": _json(TASK_ITEM_SCHEMA, "The to-do."),
                        "404": {"description": "No such to-do."},
                        **ERRORS,
                    },
                },
                "patch": {
                    "operationId": "updateTodo",
                    "summary": "Rename a to-do or mark it done",
                    "parameters": [TASK_ID_PARAMETER],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "title": {"type": "string", "maxLength": 200},
                                        "done": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(TASK_ITEM_SCHEMA, "The updated to-do."),
                        "404": {"description": "No such to-do."},
                        **ERRORS,
                    },
                },
                "delete": {
                    "operationId": "deleteTodo",
                    "summary": "Delete a to-do",
                    "parameters": [TASK_ID_PARAMETER],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "deleted": {"type": "boolean"},
                                    "id": {"type": "integer"},
                                },
                            },
                            "Deleted.",
                        ),
                        "404": {"description": "No such to-do."},
                        **ERRORS,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {
                "sandbox_oauth": {
                    "type": "oauth2",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": f"{base}/o/authorize/",
                            "tokenUrl": f"{base}/o/token/",
                            "refreshUrl": f"{base}/o/token/",
                            "scopes": {"todos": "Read and change your to-do list"},
                        }
                    },
                }
            }
        },
    }


def todo_openapi_text(site_url: str | None = None) -> str:
    return json.dumps(todo_openapi_document(site_url), indent=2)
