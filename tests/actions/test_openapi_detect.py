"""detect_operations(): one operation per (path, method), ready for the runtime."""

from __future__ import annotations

import json

from actions.openapi import Operation, detect_operations

DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/items/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
            ],
            "get": {
                "operationId": "getItem",
                "summary": "Get one",
                "parameters": [{"$ref": "#/components/parameters/Verbose"}],
            },
            "put": {
                "operationId": "putItem",
                "x-openai-isConsequential": False,
                "requestBody": {"$ref": "#/components/requestBodies/Item"},
            },
            "delete": {"operationId": "deleteItem"},
            "head": {"operationId": "headItem", "x-openai-isConsequential": True},
            "options": {"operationId": "optionsItem"},
            "patch": {
                "operationId": "patchItem",
                "requestBody": {
                    "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
                },
            },
            "trace": {"operationId": "traceItem"},
            "post": {
                "operationId": "postItem",
                "requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}}},
            },
            "summary": "not an operation",
            "x-other": {"get": "nope"},
        },
        "/aliased": {"$ref": "#/components/pathItems/Aliased"},
    },
    "components": {
        "parameters": {
            "Verbose": {
                "name": "verbose",
                "in": "query",
                "required": True,
                "schema": {"$ref": "#/components/schemas/Flag"},
            }
        },
        "schemas": {
            "Flag": {"type": "boolean"},
            "Item": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "parent": {"$ref": "#/components/schemas/Item"},
                },
            },
        },
        "requestBodies": {
            "Item": {
                "required": True,
                "content": {
                    "application/json; charset=utf-8": {
                        "schema": {"$ref": "#/components/schemas/Item"}
                    },
                    "application/xml": {"schema": {"type": "string"}},
                },
            }
        },
        "pathItems": {"Aliased": {"get": {"operationId": "aliased"}}},
    },
}


def _by_id() -> dict[str, Operation]:
    return {op.operation_id: op for op in detect_operations(json.loads(json.dumps(DOC)))}


def test_one_operation_per_method_in_document_order():
    operations = detect_operations(DOC)
    assert [(op.method, op.path) for op in operations] == [
        ("GET", "/items/{id}"),
        ("PUT", "/items/{id}"),
        ("DELETE", "/items/{id}"),
        ("HEAD", "/items/{id}"),
        ("OPTIONS", "/items/{id}"),
        ("PATCH", "/items/{id}"),
        ("TRACE", "/items/{id}"),
        ("POST", "/items/{id}"),
        ("GET", "/aliased"),
    ]
    assert operations[0].as_dict() == {
        "operation_id": "getItem",
        "method": "GET",
        "path": "/items/{id}",
        "summary": "Get one",
        "consequential": False,
        "tags": [],
    }


def test_consequential_flag():
    ops = _by_id()
    assert [
        ops[name].consequential
        for name in (
            "getItem",
            "putItem",
            "deleteItem",
            "headItem",
            "optionsItem",
            "patchItem",
            "traceItem",
            "postItem",
        )
    ] == [False, False, True, True, False, True, True, True]


def test_parameters_are_merged_with_the_operation_overriding_and_refs_resolved():
    parameters = _by_id()["getItem"].parameters
    assert [(p["name"], p["in"]) for p in parameters] == [("id", "path"), ("verbose", "query")]
    assert parameters[1] == {
        "name": "verbose",
        "in": "query",
        "required": True,
        "schema": {"type": "boolean"},
    }
    assert _by_id()["deleteItem"].parameters[1]["schema"] == {"type": "boolean"}


def test_request_bodies():
    put = _by_id()["putItem"].request_body
    assert put["content_type"] == "application/json; charset=utf-8" and put["required"]
    schema = put["schema"]
    assert schema["properties"]["name"] == {"type": "string"}
    # Recursive: expanded once, then the $ref is left where the cycle closes.
    assert schema["properties"]["parent"] == {"$ref": "#/components/schemas/Item"}
    patch = _by_id()["patchItem"].request_body
    assert patch == {
        "content_type": "application/x-www-form-urlencoded",
        "schema": {"type": "object"},
        "required": False,
    }
    assert _by_id()["postItem"].request_body is None  # text/plain is not sent by actions
    assert _by_id()["getItem"].request_body is None
    json.dumps([op.full_dict() for op in detect_operations(DOC)])


def test_expansion_is_bounded_for_densely_linked_schemas():
    # Each schema refers twice to the next: full expansion would have 2**40 nodes.
    schemas = {
        f"S{i}": {
            "type": "object",
            "properties": {
                "a": {"$ref": f"#/components/schemas/S{i + 1}"},
                "b": {"$ref": f"#/components/schemas/S{i + 1}"},
            },
        }
        for i in range(40)
    }
    schemas["S40"] = {"type": "string"}
    doc = {
        "paths": {
            "/x": {
                "post": {
                    "operationId": "x",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/S0"}}
                        }
                    },
                }
            }
        },
        "components": {"schemas": schemas},
    }
    body = detect_operations(doc)[0].request_body
    assert len(json.dumps(body)) < 2_000_000


def test_broken_documents_do_not_break_detection():
    assert detect_operations({}) == []
    assert detect_operations({"paths": []}) == []
    weird = {
        "paths": {
            "/a": {
                "get": "x",
                "post": {
                    "operationId": 5,
                    "parameters": [None, {"$ref": "#/nowhere"}],
                    "requestBody": {"$ref": "#/nowhere"},
                },
            },
            "/b": {"$ref": "http://example.com/x"},
            "/c": 3,
        }
    }
    [operation] = detect_operations(weird)
    assert operation.operation_id is None and operation.parameters == []
    assert operation.request_body is None
