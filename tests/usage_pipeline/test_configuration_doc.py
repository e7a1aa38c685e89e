"""docs/configuration.md lists every setting with its environment variable."""

from __future__ import annotations

from pydantic import BaseModel

from usage_pipeline.settings import Settings


def leaf_settings(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += leaf_settings(annotation, f"{prefix}{name}.")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_setting_and_its_variable_is_documented(repo_root):
    doc = (repo_root / "docs" / "configuration.md").read_text()
    for dotted in leaf_settings(Settings):
        variable = "USAGE_PIPELINE_" + dotted.upper().replace(".", "__")
        assert f"`{dotted}`" in doc, f"{dotted} is not in docs/configuration.md"
        assert variable in doc, f"{variable} is not in docs/configuration.md"
