"""The exception every service raises when a product rule refuses a request.

Services stay free of HTTP: the REST API turns a RuleViolation into `{"code", "detail", ...}`
with its status, the web editor into a message next to the form.
"""


class RuleViolation(Exception):
    def __init__(self, code: str, detail: str, *, status: int = 400, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra

    def as_dict(self) -> dict:
        return {"code": self.code, "detail": self.detail, **self.extra}
