"""The models a GPT can run on, and the apps (connectors) it can use.

Kept in code and settings rather than the database: it changes with releases and deployments,
not with tenants. `LLM_MODELS` (comma-separated `catalogue_key=provider_model`) defines the
catalogue a deployment offers and the name each key has at the provider; unset, the built-in
list below is offered, each key being its own provider name. Pro models still can not use
actions (DESIGN.md §2), whatever the provider behind them.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings


@dataclass(frozen=True)
class ModelInfo:
    key: str
    label: str
    supports_actions: bool
    pro: bool = False
    provider_model: str = ""


BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("gpt-5", "GPT-5", supports_actions=True),
    ModelInfo("gpt-5-mini", "GPT-5 mini", supports_actions=True),
    ModelInfo("gpt-4.1", "GPT-4.1", supports_actions=True),
    ModelInfo("gpt-4o", "GPT-4o", supports_actions=True),
    ModelInfo("o3", "o3", supports_actions=True),
    ModelInfo("o1-mini", "o1-mini", supports_actions=False),
    ModelInfo("gpt-5-pro", "GPT-5 Pro", supports_actions=False, pro=True),
    ModelInfo("o3-pro", "o3-pro", supports_actions=False, pro=True),
)
_BUILTIN_BY_KEY = {model.key: model for model in BUILTIN_MODELS}
# A model key is stored in GPT.model (max_length 32).
MAX_KEY_LENGTH = 32


def _is_pro(key: str) -> bool:
    return key.endswith("-pro") or "-pro-" in key


@lru_cache(maxsize=8)
def _parse(raw: str) -> tuple[ModelInfo, ...]:
    if not raw.strip():
        return tuple(
            ModelInfo(m.key, m.label, m.supports_actions, m.pro, provider_model=m.key)
            for m in BUILTIN_MODELS
        )
    models: dict[str, ModelInfo] = {}
    for item in raw.split(","):
        key, _, provider = (part.strip() for part in item.partition("="))
        if not key or len(key) > MAX_KEY_LENGTH:
            continue
        known = _BUILTIN_BY_KEY.get(key)
        pro = known.pro if known else _is_pro(key)
        models[key] = ModelInfo(
            key,
            known.label if known else key,
            supports_actions=known.supports_actions if known else not pro,
            pro=pro,
            provider_model=provider or key,
        )
    return tuple(models.values())


def catalogue() -> tuple[ModelInfo, ...]:
    """The models this deployment offers, read from the settings each time (cheap: cached
    per value), so a test's or a deployment's LLM_MODELS is honoured everywhere."""
    return _parse(getattr(settings, "LLM_MODELS", "") or "")


class _ModelsByKey(Mapping):
    """`MODELS_BY_KEY[key]`: the catalogue as a mapping, always the current one."""

    def _current(self) -> dict[str, ModelInfo]:
        return {model.key: model for model in catalogue()}

    def __getitem__(self, key: str) -> ModelInfo:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


MODELS_BY_KEY: Mapping[str, ModelInfo] = _ModelsByKey()


def default_model() -> str:
    """A default that supports actions: GPT-5 when offered, else the first such model."""
    offered = models_for(has_actions=True)
    keys = [model.key for model in offered]
    if "gpt-5" in keys:
        return "gpt-5"
    return keys[0] if keys else (catalogue()[0].key if catalogue() else "gpt-5")


def provider_model(key: str) -> str:
    """The model name to send to the provider for catalogue key `key`."""
    info = MODELS_BY_KEY.get(key)
    return info.provider_model if info else key


def models_for(*, has_actions: bool) -> list[ModelInfo]:
    """Actions are not available for Pro models nor for models without tool use."""
    if not has_actions:
        return list(catalogue())
    return [model for model in catalogue() if model.supports_actions and not model.pro]


def model_label(key: str) -> str:
    """What people see for a model key: its label, or the key itself for a retired model."""
    return MODELS_BY_KEY[key].label if key in MODELS_BY_KEY else key


def model_labels(keys) -> str:
    """Model keys as the labels people see, in the catalogue's order: "GPT-5, GPT-5 mini"."""
    keys = set(keys)
    return ", ".join(info.label for info in catalogue() if info.key in keys)


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
