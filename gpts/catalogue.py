"""The models a GPT can run on, and the apps (connectors) it can use.

Kept in code rather than the database: it changes with releases, not with tenants.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelInfo:
    key: str
    label: str
    supports_actions: bool
    pro: bool = False


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("gpt-5", "GPT-5", supports_actions=True),
    ModelInfo("gpt-5-mini", "GPT-5 mini", supports_actions=True),
    ModelInfo("gpt-4.1", "GPT-4.1", supports_actions=True),
    ModelInfo("gpt-4o", "GPT-4o", supports_actions=True),
    ModelInfo("o3", "o3", supports_actions=True),
    ModelInfo("o1-mini", "o1-mini", supports_actions=False),
    ModelInfo("gpt-5-pro", "GPT-5 Pro", supports_actions=False, pro=True),
    ModelInfo("o3-pro", "o3-pro", supports_actions=False, pro=True),
)
MODELS_BY_KEY = {model.key: model for model in MODELS}
DEFAULT_MODEL = "gpt-5"
MODEL_CHOICES = [(model.key, model.label) for model in MODELS]


def models_for(*, has_actions: bool) -> list[ModelInfo]:
    """Actions are not available for Pro models nor for models without tool use."""
    if not has_actions:
        return list(MODELS)
    return [model for model in MODELS if model.supports_actions and not model.pro]


def model_label(key: str) -> str:
    """What people see for a model key: its label, or the key itself for a retired model."""
    return MODELS_BY_KEY[key].label if key in MODELS_BY_KEY else key


def model_labels(keys) -> str:
    """Model keys as the labels people see, in the catalogue's order: "GPT-5, GPT-5 mini"."""
    keys = set(keys)
    return ", ".join(info.label for info in MODELS if info.key in keys)


@dataclass(frozen=True)
class AppInfo:
    key: str
    label: str


APPS: tuple[AppInfo, ...] = (
    AppInfo("google_drive", "Google Drive"),
    AppInfo("sharepoint", "SharePoint"),
    AppInfo("github", "GitHub"),
    AppInfo("box", "Box"),
)
APPS_BY_KEY = {app.key: app for app in APPS}
